"""The registry of known bugs of torch and torchvision that the verification suite finds.

Each entry is a bug of a released torch (or torchvision), found by a check of bench/ failing on
some releases and decided to be the library's fault, not the suite's (docs/verification.md,
"Every failure is decided"). It names the upstream issue (or, where none exists, carries a
minimal reproducer ready to report), the checks that show it (pytest node ids, ``*`` standing
for any text), and the releases it affects: from ``first_affected`` (the oldest release the suite
supports when it was never seen fixed) up to, not including, ``fixed_in`` (``None``: not fixed in
the newest release tried).

The registry is read in two places:

- the pytest plugin (:func:`expected_failure`) marks each matching check as a strict expected
  failure on exactly the affected releases: the check still runs, a release that has the bug
  reports it as "xfailed", and a release where it passes while the registry says it should not
  fails the run ("XPASS(strict)"), so a fix shows up as a change to record and a release that
  regains a bug fails;
- the release table (blitzbench.analysis.verification) lists, per release, the known bugs it has,
  with their upstream links and the checks that show them.

Torch-free: versions are compared as numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PACKAGES = ("torch", "torchvision")


def release_key(version: str) -> tuple[int, ...]:
    """A version in release order: "2.10.0+cu128" after "2.8.0", "2.5" equal to "2.5.0"."""
    numbers = [int(n) for n in re.findall(r"\d+", version.split("+")[0])[:3]]
    return tuple(numbers + [0] * (3 - len(numbers))) if numbers else (0, 0, 0)


@dataclass(frozen=True)
class KnownBug:
    key: str                   # a short name, used in the tables
    title: str                 # what the library computes wrong, in one line
    checks: tuple[str, ...]    # node ids of the checks that show it, * for any text
    first_affected: str        # the oldest affected release known (or the suite's floor)
    fixed_in: str | None       # the first release without it; None: in every newer release tried
    upstream: str = ""         # the upstream issue or pull request
    package: str = "torch"     # torch or torchvision: whose version ``first_affected``/``fixed_in`` are
    device: str = "cpu"        # where it was seen (the checks' ids carry the device too)
    reproducer: str = ""       # a minimal script, for a bug with no upstream issue yet
    note: str = ""             # what else was established (the cause, the releases tried)

    def affects(self, version: str) -> bool:
        """Whether a release of :attr:`package` with this version has the bug."""
        key = release_key(version)
        if key < release_key(self.first_affected):
            return False
        return self.fixed_in is None or key < release_key(self.fixed_in)

    def shows_in(self, node_id: str) -> bool:
        return any(re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), node_id)
                   for pattern in self.checks)

    def releases(self) -> str:
        """The affected releases in words, e.g. "torch 2.6.0 to before 2.14"."""
        start = f"{self.package} {self.first_affected}"
        return f"{start} and every newer release tried" if self.fixed_in is None else \
            f"{start} to before {self.fixed_in} (fixed in {self.fixed_in})"


# Filled from the checks' failures across the releases in tox.ini (docs/verification.md lists them).
KNOWN_BUGS: tuple[KnownBug, ...] = ()


def bugs_of(versions: dict[str, str], bugs: tuple[KnownBug, ...] | None = None) -> list[KnownBug]:
    """The known bugs that releases with these package versions ({"torch": "2.6.0", ...}) have."""
    return [bug for bug in (KNOWN_BUGS if bugs is None else bugs)
            if versions.get(bug.package) and bug.affects(versions[bug.package])]


def expected_failure(node_id: str, versions: dict[str, str]) -> KnownBug | None:
    """The known bug that makes ``node_id`` fail on these versions, if any."""
    return next((bug for bug in bugs_of(versions) if bug.shows_in(node_id)), None)


def reason(bug: KnownBug) -> str:
    """The expected failure's reason, as pytest prints it."""
    where = bug.upstream or "no upstream issue yet; reproducer in blitzbench.known_bugs"
    return f"known {bug.package} bug {bug.key}: {bug.title} ({where}; {bug.releases()})"
