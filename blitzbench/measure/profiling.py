"""Profiler traces for benchmark cases (``--profile``), never inside the timed region.

For each case, after it has been timed, a separate torch.profiler run records the chapter's
training step (section 6) at the case's configuration (model, device, batch size, dtype, memory
format, execution mode; a cudagraph case's replayed step), with ``record_function`` labels around its three parts:

  forward    zero_grad, then the forward pass and the loss
  backward   loss.backward()
  step       optimizer.step()

Schedule: wait 1, warm-up 1, active 3, repeat 1, with ``prof.step()`` after each iteration, so
the trace holds three ProfilerStep#N spans. CPU activity always, CUDA activity on CUDA; input
shapes, Python stacks and memory are off unless asked for (they make traces large). Traces are
written by ``torch.profiler.tensorboard_trace_handler`` (gzipped), so TensorBoard's PyTorch
Profiler tab (torch-tb-profiler) and Perfetto UI / chrome://tracing both open them, with the
``key_averages()`` table of the top operators by self time saved beside each trace.

Every CUDA benchmark case also gets ``device_busy_fraction`` (:func:`measure_device_busy_fraction`):
the time the GPU spent running kernels over the wall time of a short window of the same calls,
profiled (CUDA activity only, so the host's launches are not slowed by CPU tracing) after the
timed rounds. Below blitzbench.figures.LAUNCH_BOUND_BELOW the GPU waits for the host more than it works:
the case is "launch-bound".
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from torch.autograd.profiler_util import FunctionEventAvg
from torch.profiler import ProfilerActivity, profile, record_function, schedule, tensorboard_trace_handler

from blitzbench.cases import Case
from blitzbench.measure.workloads import Workload
from reference_models import training_step as steps

WAIT, WARMUP, ACTIVE = 1, 1, 3
BUSY_WINDOW_CALLS = 20
LABELS = ("forward", "backward", "step")
TABLE_ROWS = 20


def self_time_key(device_type: str) -> str:
    """The key_averages() sort key for self time on ``device_type``, named as this torch names it
    (self_cuda_time_total before torch 2.4, self_device_time_total since)."""
    if device_type == "cpu":
        return "self_cpu_time_total"
    return "self_device_time_total" if hasattr(FunctionEventAvg(), "self_device_time_total") else "self_cuda_time_total"


@dataclass
class CaseProfile:
    case_id: str
    trace: Path
    table: Path
    top_operators: list[tuple[str, float]]  # (name, self time in microseconds), costliest first
    time_key: str


def labelled_train_step(w: Workload) -> None:
    """One training step of the workload, its three parts labelled."""
    steps.training_step(w.run_model, w.optimizer, w.x, w.target, autocast=w.autocast(), section=record_function)


def replayed_train_step(w: Workload):
    """cudagraph mode: the captured training step's replay, labelled as one part."""
    replay = w.timed

    def step(_w: Workload) -> None:
        with record_function("cudagraph replay"):
            replay()
    return step


def profile_case(case: Case, out_dir: Path, shapes: bool = False, stack: bool = False,
                 memory: bool = False) -> CaseProfile:
    """Profile ``case``'s training step; write the trace and its key_averages table in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if case.mode == "cudagraph":  # the graph of the whole step, replayed
        w = Workload(dataclasses.replace(case, phase="train_step"))
        train_step = replayed_train_step(w)
    else:
        w = Workload(case)
        w.net.train()  # the inference phase's workload is in eval mode; a training step needs train mode
        train_step = labelled_train_step
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if case.device == "cuda" else [])
    with profile(activities=activities, schedule=schedule(wait=WAIT, warmup=WARMUP, active=ACTIVE, repeat=1),
                 on_trace_ready=tensorboard_trace_handler(str(out_dir), use_gzip=True),
                 record_shapes=shapes, with_stack=stack, profile_memory=memory) as prof:
        for _ in range(WAIT + WARMUP + ACTIVE):
            train_step(w)
            prof.step()
    averages = prof.key_averages()
    cpu_key = self_time_key("cpu")
    tables = [f"{case.id}: top operators by {cpu_key} (microseconds; {ACTIVE} profiled steps)\n"
              + averages.table(sort_by=cpu_key, row_limit=TABLE_ROWS)]
    time_key = cpu_key
    if case.device == "cuda":
        time_key = self_time_key("cuda")
        tables.append(f"{case.id}: top operators by {time_key}\n" + averages.table(sort_by=time_key, row_limit=TABLE_ROWS))
    table_path = out_dir / "key_averages.txt"
    table_path.write_text("\n\n".join(tables) + "\n", encoding="utf-8")
    traces = sorted(out_dir.glob("*.pt.trace.json.gz"))
    if len(traces) != 1:
        raise RuntimeError(f"expected one trace in {out_dir}, found {len(traces)}")
    ranked = sorted((a for a in averages if a.key not in LABELS and not a.key.startswith("ProfilerStep")),
                    key=lambda a: getattr(a, time_key), reverse=True)
    return CaseProfile(case.id, traces[0], table_path, [(a.key, getattr(a, time_key)) for a in ranked[:3]], time_key)


# -- how busy the GPU is ----------------------------------------------------------------------------

def busy_time(intervals) -> float:
    """Length of the union of (start, end) intervals: kernels that overlap (several streams)
    count once."""
    total, current_start, current_end = 0.0, None, None
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if current_end is None or start > current_end:
            if current_end is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += current_end - current_start
    return total


def busy_fraction(kernel_intervals, window_s: float) -> float:
    """GPU time in kernels (union of intervals, microseconds) over the window's wall time (seconds)."""
    if window_s <= 0:
        raise ValueError(f"the window's wall time must be positive, got {window_s}")
    return busy_time(kernel_intervals) / 1e6 / window_s


def is_kernel(event) -> bool:
    """A profiler event that is a kernel on the GPU (copies and memsets are not kernels)."""
    device_type = getattr(event, "device_type", None)
    return (device_type is not None and device_type.name == "CUDA"
            and not event.name.startswith(("Memcpy", "Memset")))


def measure_device_busy_fraction(call, calls: int = BUSY_WINDOW_CALLS) -> float | None:
    """Profile ``calls`` back-to-back calls (CUDA kernels only) between two synchronizes;
    kernel time over the window's wall time. None when the profiler could not record kernels
    (CUPTI unavailable or busy): the case's timing does not depend on it."""
    torch.cuda.synchronize()
    try:
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(calls):
                call()
            torch.cuda.synchronize()
            window_s = time.perf_counter() - start
        events = prof.events()
    except RuntimeError:
        return None
    kernels = [(e.time_range.start, e.time_range.end) for e in events if is_kernel(e)]
    return busy_fraction(kernels, window_s) if kernels else None
