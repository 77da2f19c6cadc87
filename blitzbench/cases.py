"""A benchmark case's identity: its fields, their defaults, its id, its order.

One home for what names a case, used by the benchmarks (workloads, conftest), the fidelity check,
the saved-run reader, the end-of-run tables and the report. Torch-free, so that the report runs
in an environment without torch (tox's report environment).

A throughput case is a point in the grid model x device x batch size x phase (x dtype, memory
format, execution mode; the chapter's sections 6 and 9). Its id reads
``chapter_net-cpu-bs64-train_step``, with the axes that differ from their defaults appended
(``lenet-cuda-bs8-forward-bfloat16-channels_last-compiled``).

Execution modes (``--modes``; called ``compile_mode`` and ``--compile-modes`` before they held
more than torch.compile; blitzbench.store reads older saved runs under that name):

  eager            the chapter's code as written
  compiled         torch.compile(model), default mode
  reduce-overhead  torch.compile(model, mode="reduce-overhead"): compiled, replayed as CUDA graphs
  cudagraph        the phase captured once with torch.cuda.CUDAGraph on a static batch, replayed
                   per call

A case is frozen, hashable and ordered, so that it is itself the key that lines it up across
runs (saved runs, tables, the report). The other kinds of benchmark case (data loading,
distributed training step, time to accuracy; blitzbench.kinds) are case types of their own that
sort with these: throughput cases first, then the others by kind (:class:`CaseOrder`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import ClassVar

from blitzbench.values import whole_number

MODEL_ORDER = ("chapter_net", "lenet", "cifar_net")  # as registered in reference_models.MODELS
DEVICES = ("cpu", "cuda")
PHASES = ("forward", "inference", "backward", "step", "train_step")
DTYPES = ("float32", "bfloat16", "float16")
MEMORY_FORMATS = ("contiguous", "channels_last")
MODES = ("eager", "compiled", "reduce-overhead", "cudagraph")
CUDA_GRAPH_MODES = ("reduce-overhead", "cudagraph")
DEFAULTS = {"dtype": "float32", "memory_format": "contiguous", "mode": "eager"}
ID_FORM = "model-device-bsN-phase[-dtype][-memory_format][-mode], such as chapter_net-cpu-bs4-forward"


def _join_hyphenated(parts: list[str], values) -> list[str]:
    """Id parts after the phase, with values that contain '-' (reduce-overhead) put back together."""
    joined, i = [], 0
    while i < len(parts):
        pair = "-".join(parts[i:i + 2])
        if pair in values and "-" in pair:
            joined.append(pair)
            i += 2
        else:
            joined.append(parts[i])
            i += 1
    return joined


def _rank(value, order) -> tuple:
    """Known values in their declared order, unknown ones after them, alphabetically."""
    return (order.index(value), "") if value in order else (len(order), str(value))


def model_rank(model: str) -> tuple:
    """A model's place in the reading order: as registered, unknown ones after, alphabetically."""
    return _rank(model, MODEL_ORDER)


_CONVERT = {"int": int, "float": float, "bool": bool}  # a field's annotation -> how a saved value is read


def _as_is(value):
    return value


class CaseOrder:
    """The order every kind of case shares: throughput cases first, then the other kinds by name,
    each kind in its own :attr:`sort_key` order. Subclasses set ``kind``, ``unit`` and
    ``figure_field`` (the saved figure: blitzbench.kinds.case_stats) and define ``sort_key``."""

    kind: ClassVar[str] = ""
    unit: ClassVar[str] = ""  # the saved figure's unit, as the report heads its column
    figure_field: ClassVar[str] = ""  # the ``extra_info`` field that holds the figure

    @property
    def sort_key(self) -> tuple:
        raise NotImplementedError

    @property
    def _order(self) -> tuple:
        return (self.kind != Case.kind, self.kind, self.sort_key)

    @property
    def shown_mode(self) -> str | None:
        """The execution mode the report lists beside the case: a throughput case's; None for the
        other kinds."""
        return None

    def fields(self) -> dict:
        """The case's fields, as saved in a benchmark's ``extra_info`` (beside ``kind``)."""
        return asdict(self)

    @classmethod
    def from_info(cls, info: dict):
        """The case a saved ``extra_info`` of this kind describes (as blitzbench.store.upgrade
        leaves it), or None where a field is missing."""
        if not {f.name for f in fields(cls)} <= info.keys():
            return None
        return cls(**{f.name: _CONVERT.get(f.type, _as_is)(info[f.name]) for f in fields(cls)})

    def __lt__(self, other):
        return self._order < other._order if isinstance(other, CaseOrder) else NotImplemented

    def __le__(self, other):
        return self._order <= other._order if isinstance(other, CaseOrder) else NotImplemented

    def __gt__(self, other):
        return self._order > other._order if isinstance(other, CaseOrder) else NotImplemented

    def __ge__(self, other):
        return self._order >= other._order if isinstance(other, CaseOrder) else NotImplemented


@dataclass(frozen=True)
class Case(CaseOrder):
    kind: ClassVar[str] = "throughput"
    unit: ClassVar[str] = "samples/s"
    figure_field: ClassVar[str] = "samples_per_s"

    model: str
    device: str
    batch_size: int
    phase: str
    dtype: str = DEFAULTS["dtype"]
    memory_format: str = DEFAULTS["memory_format"]
    mode: str = DEFAULTS["mode"]

    @property
    def variant(self) -> str:
        """The axes that differ from their defaults, joined by '-'; '' for a default case."""
        return "-".join(getattr(self, axis) for axis, default in DEFAULTS.items() if getattr(self, axis) != default)

    @property
    def id(self) -> str:
        """Like ``chapter_net-cpu-bs64-train_step``; non-default axes are appended."""
        return "-".join(part for part in (self.model, self.device, f"bs{self.batch_size}", self.phase,
                                          self.variant) if part)

    @property
    def sort_key(self) -> tuple:
        """Reading order: model, phase, batch size, device, variant."""
        return (model_rank(self.model), _rank(self.phase, PHASES), self.batch_size,
                _rank(self.device, DEVICES), self.variant)

    @property
    def shown_mode(self) -> str:
        return self.mode

    @classmethod
    def parse(cls, text: str, models=MODEL_ORDER) -> Case:
        """A case id back into its case; ValueError with one line saying what is accepted."""
        parts = text.strip().split("-")
        try:
            if len(parts) < 4 or not parts[2].startswith("bs"):
                raise ValueError
            batch_size = whole_number(parts[2][2:], least=1)
        except ValueError:
            raise ValueError(f"case {text!r} is not of the form {ID_FORM}") from None
        model, device, _, phase, *rest = parts
        rest = _join_hyphenated(rest, MODES)
        checks = (("model", model, models), ("device", device, DEVICES), ("phase", phase, PHASES))
        for what, value, accepted in checks:
            if value not in accepted:
                raise ValueError(f"case {text!r}: unknown {what} {value!r}; accepted: {', '.join(accepted)}")
        axes = dict(DEFAULTS)
        choices = {"dtype": DTYPES, "memory_format": MEMORY_FORMATS, "mode": MODES}
        for value in rest:
            axis = next((a for a, accepted in choices.items() if value in accepted), None)
            if axis is None or axes[axis] != DEFAULTS[axis] or value == DEFAULTS[axis]:
                accepted = ", ".join(v for a in choices for v in choices[a] if v != DEFAULTS[a])
                raise ValueError(f"case {text!r}: {value!r} is not a non-default axis, or repeats one; "
                                 f"accepted after the phase: {accepted}")
            axes[axis] = value
        return cls(model, device, batch_size, phase, **axes)

    def unsupported_reason(self) -> str | None:
        """Why this combination is not benchmarked, or None."""
        if self.mode in CUDA_GRAPH_MODES and self.device != "cuda":
            return f"{self.mode} replays CUDA graphs, which need a CUDA device; {self.device} runs eager and compiled"
        if self.mode == "cudagraph" and self.phase == "backward":
            return ("cudagraph: backward alone needs a fresh autograd graph per call, and a captured graph "
                    "replays one fixed graph; its cost is inside the cudagraph train_step")
        if self.dtype != "float32" and self.device != "cuda":
            return f"{self.dtype} autocast is benchmarked on CUDA only; {self.device} cases run in float32"
        if self.memory_format == "channels_last" and self.model == "chapter_net":
            return ("chapter_net flattens with x.view(-1, n) as the chapter writes it, which raises on "
                    "channels_last activations (not contiguous); lenet and cifar_net use torch.flatten")
        return None


# Each axis's pytest option (blitzbench.plugin.suite), in the order the options are written.
OPTION_OF_AXIS = (("device", "--device"), ("batch_size", "--batch-sizes"), ("model", "--models"),
                  ("phase", "--phases"), ("dtype", "--dtypes"), ("memory_format", "--memory-formats"),
                  ("mode", "--modes"))


def pytest_options(selected) -> list[str]:
    """The suite's options (``--device=cpu --batch-sizes=4,64 ...``) that make a pytest run
    generate every one of ``selected`` (throughput cases): each axis's values, batch sizes in
    increasing order, the others in the order first met. A run under them may generate more
    cases (the grid these values span); a test id or node id picks the ones wanted."""
    selected = list(selected)
    options = []
    for axis, option in OPTION_OF_AXIS:
        values = dict.fromkeys(getattr(case, axis) for case in selected)
        if axis == "batch_size":
            values = sorted(values)
        options.append(f"{option}={','.join(map(str, values))}")
    return options
