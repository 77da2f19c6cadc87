"""Callgrind from inside the process it counts: its client requests, and its output files read back.

Client requests (valgrind's ``callgrind.h``) are a magic no-op instruction sequence that valgrind
recognises: under valgrind the request is carried out, natively nothing happens and the default
result comes back. They are issued here from a 29-byte x86-64 function placed in executable memory
and called through ctypes, so that instrumentation can be switched on around the counted calls
only (``valgrind --instr-atstart=no``): an uninstrumented ``import torch``, model building and
warm-up run several times faster than instrumented ones, which is what makes counting a whole
benchmark set in one process affordable. torch's own bindings (``torch._C._valgrind_toggle``) can
only toggle collection, which leaves everything before it instrumented, and exist only in some
builds; this works with any torch.

The output format is valgrind's "Callgrind Format Specification" (callgrind manual, chapter 3):
``fn=``/``ob=`` lines name the current function and object (``(id) name`` the first time, ``(id)``
after, with --compress-strings), a cost line is ``<position> <Ir>``, and a cost line right after
``calls=`` is the inclusive cost of that call, charged to the caller's inclusive cost only.
"""

from __future__ import annotations

import ctypes
import gzip
import mmap
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

# valgrind.h / callgrind.h request codes: VG_USERREQ_TOOL_BASE('C','T') and the enum after it.
RUNNING_ON_VALGRIND = 0x1001
_CT = (ord("C") << 24) | (ord("T") << 16)
DUMP_STATS, ZERO_STATS, TOGGLE_COLLECT, DUMP_STATS_AT, START_INSTRUMENTATION, STOP_INSTRUMENTATION = (
    _CT + i for i in range(6))

# unsigned long request(unsigned long *args, unsigned long default): valgrind.h's amd64
# VALGRIND_DO_CLIENT_REQUEST_EXPR (args in %rax, default and result in %rdx) as a function.
_AMD64_CLIENT_REQUEST = bytes.fromhex(
    "4889f8"      # mov  %rdi,%rax        args
    "4889f2"      # mov  %rsi,%rdx        default
    "48c1c703"    # rol  $3,%rdi          the special-instruction preamble: four rotations
    "48c1c70d"    # rol  $13,%rdi         of %rdi by 128 bits in all (a no-op natively)
    "48c1c73d"    # rol  $61,%rdi
    "48c1c733"    # rol  $51,%rdi
    "4887db"      # xchg %rbx,%rbx        "%rdx = client_request(%rax)"
    "4889d0"      # mov  %rdx,%rax        the result
    "c3")         # ret

INSTALL_HINT = "install valgrind 3.15 or newer (Debian/Ubuntu: apt-get install valgrind; Fedora: dnf install valgrind)"


class ClientRequests:
    """Callgrind's client requests, callable from Python (x86-64 Linux only)."""

    def __init__(self):
        if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
            raise RuntimeError(f"callgrind client requests are issued as x86-64 code; this is {platform.system()} "
                               f"{platform.machine()} (counting instructions needs x86-64 Linux)")
        self._page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        self._page.write(_AMD64_CLIENT_REQUEST)
        address = ctypes.addressof(ctypes.c_char.from_buffer(self._page))
        self._call = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong), ctypes.c_ulong)(address)
        self._args = (ctypes.c_ulong * 6)()
        self._names = []  # keeps DUMP_STATS_AT's strings alive

    def request(self, code: int, arg1: int = 0, default: int = 0) -> int:
        self._args[0], self._args[1] = code, arg1
        return self._call(self._args, default)

    @property
    def running_on_valgrind(self) -> bool:
        return self.request(RUNNING_ON_VALGRIND) > 0

    def start_instrumentation(self) -> None:
        self.request(START_INSTRUMENTATION)

    def stop_instrumentation(self) -> None:
        self.request(STOP_INSTRUMENTATION)

    def toggle_collect(self) -> None:
        self.request(TOGGLE_COLLECT)

    def zero_stats(self) -> None:
        self.request(ZERO_STATS)

    def dump_stats_at(self, name: str) -> None:
        """Write the counts so far to a new part file, its ``desc: Trigger:`` line naming ``name``."""
        text = ctypes.create_string_buffer(name.encode())
        self._names.append(text)
        self.request(DUMP_STATS_AT, ctypes.addressof(text))


# -- valgrind itself -------------------------------------------------------------------------------

def valgrind_version() -> str | None:
    """``valgrind --version`` ("valgrind-3.19.0"), or None where valgrind is not installed."""
    exe = shutil.which("valgrind")
    if exe is None:
        return None
    try:
        return subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def missing_reason() -> str | None:
    """Why instructions cannot be counted here, in one line; None when they can."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return f"counting instructions needs x86-64 Linux (this is {platform.system()} {platform.machine()})"
    if valgrind_version() is None:
        return f"valgrind is not installed (or does not run): {INSTALL_HINT}"
    return None


def command(out_file: Path) -> list[str]:
    """The valgrind command line a counting process runs under: address-space randomisation off
    (setarch -R) where setarch exists, instrumentation and collection off until the process
    switches them on, one dump per client request, no per-line data (functions are enough)."""
    prefix = ["setarch", platform.machine(), "-R"] if shutil.which("setarch") else []
    return prefix + ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
                     "--dump-line=no", "--dump-instr=no", "--compress-pos=no",
                     f"--callgrind-out-file={out_file}"]


# -- reading callgrind's output --------------------------------------------------------------------

@dataclass
class Profile:
    """One dump: its trigger's name, total Ir, and per function (standardised name) its exclusive
    and inclusive Ir."""

    trigger: str
    total: int
    exclusive: dict[str, int] = field(default_factory=dict)
    inclusive: dict[str, int] = field(default_factory=dict)


_NAMED = re.compile(r"^(ob|fl|fi|fe|fn|cob|cfi|cfl|cfn)=(?:\((\d+)\))?\s*(.*)$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]+$")
_CYCLE_SUFFIX = re.compile(r"'\d+$")


def standard_name(function: str, obj: str) -> str:
    """``libtorch_cpu.so:at::native::foo(...)``: the object's file name (not its install path,
    which differs between environments), the function as callgrind names it less its recursion
    suffix (``'2``); a function without a symbol is ``(no symbol)`` of its object, since its
    address differs from one build to the next."""
    name = _CYCLE_SUFFIX.sub("", function.strip())
    if _ADDRESS.match(name) or not name:
        name = "(no symbol)"
    library = Path(obj.strip()).name if obj.strip() not in ("", "???") else "(anonymous code)"
    return f"{library}:{name}"


def parse(text: str) -> Profile:
    """One callgrind output file (a single part) into a :class:`Profile`.

    Exclusive: the function's own cost lines. Inclusive: exclusive plus the cost of its calls to
    functions outside its recursion cycle (the strongly connected component of the call graph it
    lies in, as KCachegrind groups cycles): exact for a function that is not recursive, a lower
    bound for one that is (the interpreter's eval loop), and never counted twice over nesting.
    """
    names = {kind: {} for kind in ("ob", "fl", "fn")}
    kind_of = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl", "cfl": "fl",
               "fn": "fn", "cfn": "fn"}
    trigger, totals, summary = "", None, None
    current_ob = current_fn = ""
    call_ob = call_fn = None
    pending_call = False
    exclusive: dict[str, int] = {}
    arcs: dict[tuple[str, str], int] = {}
    function = None
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        first = line[0]
        if first.isdigit() or first in "+-*":
            parts = line.split()
            cost = int(parts[1]) if len(parts) > 1 else 0
            if function is None:
                function = standard_name(current_fn, current_ob)
                exclusive.setdefault(function, 0)
            if pending_call:
                callee = standard_name(call_fn, call_ob if call_ob is not None else current_ob)
                arcs[function, callee] = arcs.get((function, callee), 0) + cost
                pending_call, call_ob, call_fn = False, None, None
            else:
                exclusive[function] += cost
            continue
        if line.startswith("calls="):
            pending_call = True
            continue
        match = _NAMED.match(line)
        if match:
            key, ident, name = match.groups()
            table = names[kind_of[key]]
            if ident is not None and name:
                table[ident] = name
            resolved = table.get(ident, name) if ident is not None else name
            if key == "ob":
                current_ob = resolved
            elif key == "fn":
                current_fn, function = resolved, None
                call_ob = call_fn = None
            elif key == "cob":
                call_ob = resolved
            elif key == "cfn":
                call_fn = resolved
            continue
        if line.startswith("desc: Trigger:"):
            trigger = line.split(":", 2)[2].strip()
            trigger = trigger.removeprefix("Client Request:").strip()
        elif line.startswith("totals:"):
            totals = int(line.split(":", 1)[1].split()[0])
        elif line.startswith("summary:"):
            summary = int(line.split(":", 1)[1].split()[0])
    # "totals:" is the sum of the cost lines; callgrind writes "summary: 0" in dumps made while
    # instrumentation was switched on and off, so it is the fallback only.
    total = totals if totals is not None else summary if summary else sum(exclusive.values())
    component = cycles(set(exclusive) | {callee for _, callee in arcs}, arcs)
    inclusive = dict(exclusive)
    for (caller, callee), cost in arcs.items():
        if component[caller] != component[callee]:
            inclusive[caller] = inclusive.get(caller, 0) + cost
    return Profile(trigger, total, exclusive, inclusive)


def cycles(nodes, arcs) -> dict[str, int]:
    """Each function's strongly connected component of the call graph (Tarjan's algorithm,
    iterative): functions that can reach each other through calls share a number."""
    successors: dict[str, list[str]] = {n: [] for n in nodes}
    for caller, callee in arcs:
        successors[caller].append(callee)
    index, low, on_stack, stack, component = {}, {}, set(), [], {}
    counter = 0
    for root in successors:
        if root in index:
            continue
        work = [(root, iter(successors[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(successors[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component[member] = index[node]
                    if member == node:
                        break
    return component


def read(path: Path) -> Profile:
    """A callgrind output file, plain or gzip-compressed."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        return parse(fh.read())
