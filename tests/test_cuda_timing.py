"""The arithmetic of CUDA timing, on the CPU: round sizes, the event clock, the GPU's busy fraction."""

import pytest

from blitzbench.measure import profiling, timing


@pytest.mark.parametrize("per_call, latency, expected", [
    (2e-3, 2.2e-3, 20),       # eager, launch-bound: 20 calls (40 ms) already keep the sync under 2%
    (2.5e-4, 3e-4, 100),      # a replayed graph: 25 ms needs 100 calls
    (1e-5, 1e-5, 2500),       # tiny calls: 25 ms of them
    (1e-3, 2e-3, 50),         # latency twice the throughput time: (2 - 1) ms / (2% of 1 ms) = 50 calls
    (2e-2, 2.1e-2, 20),       # a busy GPU: 20 calls (400 ms)
])
def test_cuda_round_calls(per_call, latency, expected):
    calls = timing.cuda_round_calls(per_call, latency)
    assert calls == expected
    # what the rule promises: at least 20 calls and 25 ms, and one call's overhead under 2% of the round
    assert calls >= timing.CUDA_MIN_ROUND_CALLS
    assert calls * per_call >= timing.CUDA_MIN_ROUND_SECONDS - 1e-12
    assert (latency - per_call) <= timing.CUDA_SYNC_SHARE * calls * per_call + 1e-12


def test_cuda_round_calls_is_capped():
    assert timing.cuda_round_calls(0.0, 0.0) == timing.CUDA_MAX_ROUND_CALLS


@pytest.mark.parametrize("round_s, quick, rounds", [(0.04, False, 25), (0.04, True, 6), (0.4, True, 5),
                                                     (1e-4, False, timing.CUDA_MAX_ROUNDS)])
def test_cuda_rounds_fill_the_budget(round_s, quick, rounds):
    assert timing.cuda_rounds(round_s, quick) == (rounds, 1)


class FakeEvent:
    """A CUDA event on a fake stream whose clock the test advances."""
    now_ms = 0.0

    def record(self):
        self.at = FakeEvent.now_ms

    def elapsed_time(self, end):
        return end.at - self.at


def test_event_clock_counts_only_the_spans_between_its_events():
    syncs = []
    clock = timing.CudaEventClock(event=FakeEvent, synchronize=lambda: syncs.append(1))
    start = clock()
    for _ in range(3):
        FakeEvent.now_ms += 5.0  # the fresh graph's forward: not counted
        clock.start()
        FakeEvent.now_ms += 2.0  # loss.backward()
        clock.stop()
    end = clock()
    assert end - start == pytest.approx(3 * 2.0 / 1000)
    assert len(syncs) == 2  # one synchronize per reading, none per call


def test_event_clock_stop_without_start_is_an_error():
    clock = timing.CudaEventClock(event=FakeEvent, synchronize=lambda: None)
    with pytest.raises(RuntimeError, match="without start"):
        clock.stop()


def test_seconds_per_call_reads_the_clock_once_per_batch_of_calls():
    readings = iter([10.0, 10.5])
    calls = []
    assert timing.seconds_per_call(lambda: calls.append(1), lambda: next(readings), calls=25) == pytest.approx(0.02)
    assert len(calls) == 25


def test_latency_is_the_median_single_call():
    times = iter([0, 1, 1, 4, 4, 6])  # calls of 1, 3 and 2 seconds
    assert timing.latency_seconds(lambda: None, lambda: next(times), repeats=3) == 2


@pytest.mark.parametrize("kernels, window_s, expected", [
    ([(0, 500), (500, 1000)], 0.002, 0.5),          # back to back: 1 ms busy in a 2 ms window
    ([(0, 600), (400, 1000)], 0.001, 1.0),          # overlapping (two streams): counted once
    ([(0, 100), (300, 400), (350, 380)], 0.001, 0.2),
    ([(10, 10)], 0.001, 0.0),                       # an empty interval
    ([], 0.001, 0.0),
])
def test_busy_fraction_is_the_union_of_kernel_time_over_wall_time(kernels, window_s, expected):
    assert profiling.busy_fraction(kernels, window_s) == pytest.approx(expected)


def test_busy_fraction_rejects_an_empty_window():
    with pytest.raises(ValueError, match="positive"):
        profiling.busy_fraction([(0, 1)], 0.0)


def test_the_torch_free_table_marks_launch_bound_at_the_profilers_threshold():
    from blitzbench import figures
    from blitzbench.analysis import summary_table

    assert summary_table.LAUNCH_BOUND_BELOW is figures.LAUNCH_BOUND_BELOW  # the table's mark is the threshold
    assert figures.LAUNCH_BOUND_BELOW == 0.5  # "below 50%": launch-bound, docs/benchmarks.md


class StreamTime:
    """A CUDA stream's clock played by the test: work advances it by a set number of milliseconds."""
    now_ms = 0.0


class StreamEvent:
    """A CUDA event on :class:`StreamTime`."""

    def record(self):
        self.at = StreamTime.now_ms

    def elapsed_time(self, end):
        return end.at - self.at


class RecordingBenchmark:
    """pytest-benchmark's pedantic mode in small: rounds of ``iterations`` calls between two timer
    readings, with the timer the case's mark would give it."""

    disabled = False

    def __init__(self, timer):
        self.timer, self.rounds = timer, []

    def pedantic(self, target, rounds=1, iterations=1, warmup_rounds=0):
        self.iterations = iterations
        for r in range(warmup_rounds + rounds):
            start = self.timer()
            for _ in range(iterations):
                target()
            if r >= warmup_rounds:
                self.rounds.append((self.timer() - start) / iterations)


@pytest.mark.parametrize("phase", ["forward", "backward", "train_step"])
def test_the_cuda_path_times_rounds_of_back_to_back_calls(phase, monkeypatch):
    """The CUDA timing glue, run on the CPU: synchronize is a no-op, events read the host clock,
    the profiler's window is stubbed. Every round holds at least 20 calls; backward is timed by
    the event clock alone: its fresh graph's forward (5 ms on the played stream clock) is not
    counted, its loss.backward() (2 ms) is."""
    import torch

    from blitzbench.measure import case_timing
    from blitzbench.cases import Case
    from blitzbench.measure.workloads import Workload

    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: None)
    clock = timing.CudaEventClock(event=StreamEvent, synchronize=lambda: None)
    timer = clock if phase == "backward" else timing.cuda_synchronized_perf_counter  # as case_timer chooses
    monkeypatch.setattr(profiling, "measure_device_busy_fraction", lambda call, calls: 0.3)
    workload = Workload(Case("lenet", "cpu", 8, phase))
    workload.prepare()
    fresh_graph, backward = workload.fresh_graph, workload.backward

    def played_fresh_graph():
        StreamTime.now_ms += 5.0
        return fresh_graph()

    def played_backward(loss):
        StreamTime.now_ms += 2.0
        backward(loss)

    monkeypatch.setattr(workload, "fresh_graph", played_fresh_graph)
    monkeypatch.setattr(workload, "backward", played_backward)
    benchmark = RecordingBenchmark(timer)
    measured = case_timing.time_on_cuda(benchmark, workload, quick=True, clock=timer)
    assert benchmark.iterations == measured["calls_per_round"] >= timing.CUDA_MIN_ROUND_CALLS
    assert len(benchmark.rounds) >= timing.CUDA_MIN_ROUNDS and min(benchmark.rounds) > 0
    assert measured["latency_s"] > 0 and measured["device_busy_fraction"] == 0.3 and measured["launch_bound"]
    if phase == "backward":  # every round: 2 ms per call, the backward's span and nothing else
        assert benchmark.rounds == pytest.approx([0.002] * len(benchmark.rounds))


def test_each_case_gets_its_timer_and_its_name_from_one_choice():
    """timing.case_timer: the clock a case's benchmark mark carries and the name saved beside its
    time come from one choice; each CUDA backward case has an event clock of its own."""
    import time

    cpu = timing.case_timer("cpu", "backward")
    assert cpu.clock is time.perf_counter and cpu.name.startswith("time.perf_counter")
    forward = timing.case_timer("cuda", "forward")
    assert forward.clock is timing.cuda_synchronized_perf_counter and "synchronize" in forward.name
    backward, other = timing.case_timer("cuda", "backward"), timing.case_timer("cuda", "backward")
    assert isinstance(backward.clock, timing.CudaEventClock) and "CUDA events" in backward.name
    assert backward.clock is not other.clock
    assert timing.benchmark_options(backward, "lenet backward", quick=True)["timer"] is backward.clock
