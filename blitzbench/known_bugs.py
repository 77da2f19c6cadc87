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
  failure on exactly the affected releases, failing by the bug's kind of error (``raises``: an
  assertion on wrong numbers, or the error torch raises), so that another failure of the same
  check is still a failure: the check still runs, a release that has the bug
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


def node_id_matches(pattern: str, node_id: str) -> bool:
    """Whether a pytest node id is the pattern's, ``*`` standing for any text (nothing else special)."""
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), node_id) is not None


@dataclass(frozen=True)
class KnownBug:
    key: str                   # a short name, used in the tables
    title: str                 # what the library computes wrong, in one line
    checks: tuple[str, ...]    # node ids of the checks that show it, * for any text
    first_affected: str        # the oldest affected release known (or the suite's floor)
    fixed_in: str | None       # the first release without it; None: in every newer release tried
    upstream: str = ""         # the upstream issue or pull request
    package: str = "torch"     # torch or torchvision: whose version ``first_affected``/``fixed_in`` are
    device: str = "cpu"        # where it was seen (the checks' ids say where they apply: a pure-Python bug on any device)
    reproducer: str = ""       # a minimal script, for a bug with no upstream issue yet
    note: str = ""             # what else was established (the cause, the releases tried)
    raises: str = "AssertionError"  # how the checks fail by it: wrong numbers, or torch's error (RuntimeError)

    def affects(self, version: str) -> bool:
        """Whether a release of :attr:`package` with this version has the bug."""
        key = release_key(version)
        if key < release_key(self.first_affected):
            return False
        return self.fixed_in is None or key < release_key(self.fixed_in)

    def shows_in(self, node_id: str) -> bool:
        return any(node_id_matches(pattern, node_id) for pattern in self.checks)

    def releases(self) -> str:
        """The affected releases in words, e.g. "torch 2.6.0 to before 2.14"."""
        start = f"{self.package} {self.first_affected}"
        return f"{start} and every newer release tried" if self.fixed_in is None else \
            f"{start} to before {self.fixed_in} (fixed in {self.fixed_in})"


OPTIMIZERS = "bench/test_optimizers.py::test_step_equals_update_equations"
SCHEDULERS = "bench/test_schedulers.py"

# Found by the checks' failures across the releases in tox.ini (docs/verification.md lists them).
KNOWN_BUGS: tuple[KnownBug, ...] = (
    KnownBug(
        "fused-sgd-half-cpu",
        "torch.optim.SGD(fused=True) on the CPU leaves bfloat16 and float16 parameters unchanged where "
        "the fused kernel's vectorised loop handles them (16 elements and more), with or without "
        "momentum; only the scalar tail is updated",
        checks=tuple(f"{OPTIMIZERS}[cpu-sgd-{config}-fused-{dtype}]"
                     for config in ("momentum*", "lr_tensor") for dtype in ("bfloat16", "float16")),
        first_affected="2.4", fixed_in="2.14",
        upstream="https://github.com/pytorch/pytorch/issues/191763",
        note="fixed by pytorch/pytorch#192545 (not backported to 2.13); seen on 2.4.1, 2.6.0, 2.8.0, 2.10.0, "
             "2.11.0, 2.12.1; right on 2.14.1 and 2.15.0"),
    KnownBug(
        "nll-loss-4d-noncontiguous-backward",
        "the backward of F.nll_loss over (N, C, H, W) log-probabilities with reduction 'mean' raises "
        "'grad_input must be contiguous' when the input is dense but not contiguous (channels_last, "
        "or its dimensions reordered)",
        checks=("bench/test_loss_variants.py::test_nll_loss[cpu-nchw_*-mean-channels_last-*]",
                "bench/test_loss_variants.py::test_nll_loss[cpu-nchw_*-mean-reversed-*]"),
        first_affected="2.4", fixed_in=None, raises="RuntimeError",
        upstream="https://github.com/pytorch/pytorch/issues/175084",
        note="cross_entropy on the same inputs works (it makes the input contiguous); the proposed fix "
             "pytorch/pytorch#175246 is not in 2.15.0; seen on every release in tox.ini"),
    KnownBug(
        "max-pool2d-int-channels-last-cpu",
        "F.max_pool2d on signed integer tensors in channels_last memory format on the CPU returns 0 for "
        "every window whose maximum is negative: the kernel starts its running maximum at -infinity "
        "converted to the integer type, which is 0",
        # the cases whose random inputs have a window of negative values (the others pass on 2.4.1 too)
        checks=("bench/test_layer_variants.py::test_max_pool2d[cpu-c65_4x5-channels_last-random-int*]",
                "bench/test_layer_variants.py::test_max_pool2d[cpu-c17_7x6_k3s2-channels_last-random-int32]",
                "bench/test_layer_variants.py::test_max_pool2d[cpu-c17_7x6_k3s2-channels_last-random-int8]"),
        first_affected="2.1", fixed_in="2.5",
        upstream="https://github.com/pytorch/pytorch/issues/109586",
        note="introduced with integer max_pool2d on the CPU (pytorch/pytorch#104225, 2.1), fixed by "
             "pytorch/pytorch#129106; seen on 2.4.1; right on 2.5.1 and every newer release tried"),
    KnownBug(
        "sequential-lr-tensor-lr",
        "SequentialLR with a Tensor learning rate gives wrong rates: its constructor makes each group's "
        "'lr' and 'initial_lr' one tensor, which later in-place updates change together",
        checks=(f"{SCHEDULERS}::test_scheduler_follows_its_formula[*-SequentialLR-*-tensor_float*]",
                f"{SCHEDULERS}::test_tensor_learning_rate_stays_a_tensor[*-SequentialLR-*-tensor_float*]"),
        first_affected="2.4", fixed_in="2.10",
        upstream="https://github.com/pytorch/pytorch/issues/162359",
        note="fixed by pytorch/pytorch#163098; seen on 2.4.1, 2.6.0, 2.8.0; right from 2.10.0 (2.9 not tried)"),
    KnownBug(
        "get-last-lr-aliases-tensor-lr",
        "a scheduler's get_last_lr() returns the optimizer's own Tensor learning rate, not a copy, so "
        "values it returned earlier change with later steps",
        checks=(f"{SCHEDULERS}::test_get_last_lr_keeps_the_values_it_returned[*-tensor_float*]",),
        first_affected="2.4", fixed_in="2.10",
        upstream="https://github.com/pytorch/pytorch/issues/163103",
        note="fixed by pytorch/pytorch#163120; seen on 2.4.1, 2.6.0, 2.8.0; right from 2.10.0 (2.9 not tried)"),
    KnownBug(
        "to-tensor-i16-wraps",
        "ToTensor (transforms.ToTensor, functional.to_tensor, v2.ToTensor) turns a 16-bit unsigned PIL "
        "image (mode I;16) into int16, so values above 32767 come back negative (65535 as -1)",
        checks=("bench/test_transforms.py::test_to_tensor_as_documented[*-I;16]",),
        first_affected="0.19", fixed_in=None, package="torchvision",
        upstream="https://github.com/pytorch/vision/issues/8359",
        note="also pytorch/vision#8188; the proposed fix pytorch/vision#8369 is not in 0.29.2; seen on "
             "every torchvision in tox.ini (0.19.1 to 0.29.2)"),
    KnownBug(
        "to-dtype-uint16-unscaled",
        "v2.ToDtype(torch.float32, scale=True) does not scale uint16 images (32768 stays 32768.0 "
        "instead of 32768 / 65535)",
        checks=("bench/test_transforms.py::test_v2_to_image_then_to_dtype_scale[I;16]",
                "bench/test_transforms.py::test_v2_to_image_then_to_dtype_scale[ndarray-uint16]"),
        first_affected="0.19", fixed_in="0.20", package="torchvision",
        upstream="https://github.com/pytorch/vision/pull/8524",
        note="0.19's table of dtype maxima has no uint16; seen on 0.19.1, right from 0.21.0 (0.20 not tried; "
             "the fix was merged in July 2024, before 0.20)"),
)


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
