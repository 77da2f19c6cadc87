"""Every execution mode computes what the chapter's eager code computes (bench.modes).

For each model and mode: 3 training steps in the mode and 3 eager steps from the same seed, TF32
off, must update every parameter alike (relative to the update's size; bench.modes.UPDATE_RTOL).
On the CPU that covers ``compiled`` (torch.compile's default mode); on CUDA every mode, and the
cudagraph mode under bfloat16 autocast too. A mode a device cannot run is skipped with the reason.
"""

import pytest
import torch

from bench import modes
from bench.cases import Case

VERIFY_BATCH = 8


def _skip_unless_runnable(case: Case) -> None:
    reason = case.unsupported_reason()
    if reason:
        pytest.skip(reason)


@pytest.mark.parametrize("mode", ["compiled", "reduce-overhead", "cudagraph"])
def test_mode_matches_eager_after_three_steps(model_name, device, mode):
    case = Case(model_name, device, VERIFY_BATCH, "train_step", mode=mode)
    _skip_unless_runnable(case)
    error = modes.verify(case)
    assert error <= modes.UPDATE_RTOL["float32"]


@pytest.mark.cuda
def test_cudagraph_under_bfloat16_autocast_matches_eager(model_name, device):
    case = Case(model_name, device, VERIFY_BATCH, "train_step", dtype="bfloat16", mode="cudagraph")
    _skip_unless_runnable(case)
    modes.verify(case)


def _scaled_output_backend(gm, example_inputs):
    """A torch.compile backend that gets the model wrong: every output 1% too large."""
    def run(*args):
        outputs = gm(*args)
        return type(outputs)(o * 1.01 if isinstance(o, torch.Tensor) and o.is_floating_point() else o
                             for o in outputs)
    return run


def compile_wrongly(monkeypatch) -> None:
    """Make every mode but eager compile with :func:`_scaled_output_backend` (also used by
    tests/test_workloads.py)."""
    eager_or_compiled = modes.compile_model
    monkeypatch.setattr(modes, "compile_model", lambda net, mode: eager_or_compiled(net, mode) if mode == "eager"
                        else torch.compile(net, backend=_scaled_output_backend))


def test_a_mode_that_computes_something_else_fails(monkeypatch):
    compile_wrongly(monkeypatch)
    with pytest.raises(AssertionError, match=r"compiled is not eager: after 3 training steps .* differs from eager's by"):
        modes.verify(Case("chapter_net", "cpu", 4, "train_step", mode="compiled"))


def test_update_error_is_relative_to_the_update_size():
    reference = {"w": torch.tensor([1e-3, -2e-3], dtype=torch.float64)}
    same = {"w": reference["w"].clone()}
    off = {"w": torch.tensor([1e-3, -2.2e-3], dtype=torch.float64)}  # 2e-4 off, 10% of the largest update
    assert modes.update_error(same, reference) == (0.0, "w")
    error, where = modes.update_error(off, reference)
    assert where == "w" and error == pytest.approx(0.1)


def test_eager_needs_no_verification():
    assert modes.verify(Case("chapter_net", "cpu", 4, "train_step")) == 0.0


def test_the_reduce_overhead_code_path_runs_where_torch_skips_its_graphs():
    """On the CPU torch.compile(mode="reduce-overhead") compiles without CUDA graphs, so the
    suite's own path for that mode (a new iteration marked before each call) can be exercised
    here; the benchmark grid skips the mode on the CPU because there it would time plain
    compiled code under another name."""
    case = Case("lenet", "cpu", VERIFY_BATCH, "train_step", mode="reduce-overhead")
    assert modes.verify(case) <= modes.UPDATE_RTOL["float32"]
