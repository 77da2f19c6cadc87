"""Profiler traces for benchmark cases (``--profile``), never inside the timed region.

For each case, after it has been timed, a separate torch.profiler run records the chapter's
training step (section 6) at the case's configuration (model, device, batch size, dtype, memory
format, compile mode), with ``record_function`` labels around its three parts:

  forward    zero_grad, then the forward pass and the loss
  backward   loss.backward()
  step       optimizer.step()

Schedule: wait 1, warm-up 1, active 3, repeat 1, with ``prof.step()`` after each iteration, so
the trace holds three ProfilerStep#N spans. CPU activity always, CUDA activity on CUDA; input
shapes, Python stacks and memory are off unless asked for (they make traces large). Traces are
written by ``torch.profiler.tensorboard_trace_handler`` (gzipped), so TensorBoard's PyTorch
Profiler tab (torch-tb-profiler) and Perfetto UI / chrome://tracing both open them, with the
``key_averages()`` table of the top operators by self time saved beside each trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch.nn.functional as F
from torch.autograd.profiler_util import FunctionEventAvg
from torch.profiler import ProfilerActivity, profile, record_function, schedule, tensorboard_trace_handler

from bench.cases import Case
from bench.workloads import Workload

WAIT, WARMUP, ACTIVE = 1, 1, 3
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
    with record_function("forward"):
        w.optimizer.zero_grad(set_to_none=True)
        with w.autocast():
            loss = F.cross_entropy(w.forward_fn(w.x), w.target)
    with record_function("backward"):
        loss.backward()
    with record_function("step"):
        w.optimizer.step()


def profile_case(case: Case, out_dir: Path, shapes: bool = False, stack: bool = False,
                 memory: bool = False) -> CaseProfile:
    """Profile ``case``'s training step; write the trace and its key_averages table in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    w = Workload(case)
    w.net.train()  # the inference phase's workload is in eval mode; a training step needs train mode
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if case.device == "cuda" else [])
    with profile(activities=activities, schedule=schedule(wait=WAIT, warmup=WARMUP, active=ACTIVE, repeat=1),
                 on_trace_ready=tensorboard_trace_handler(str(out_dir), use_gzip=True),
                 record_shapes=shapes, with_stack=stack, profile_memory=memory) as prof:
        for _ in range(WAIT + WARMUP + ACTIVE):
            labelled_train_step(w)
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
