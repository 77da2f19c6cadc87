"""The end-of-run table: devices side by side, speedup, noise marks, devices that did not run."""

from blitzbench import store
from blitzbench.analysis.summary_table import throughput_table


def bench(device, samples_per_s, median=0.01, iqr=0.0005, phase="forward", batch_size=64, gflops=1.0, peak=0.5,
          mode="eager", busy=None, model="lenet", dtype="float32"):
    """A throughput record as bench/test_throughput.py saves it (noise = IQR / median)."""
    return {"extra_info": {"kind": "throughput", "model": model, "phase": phase, "device": device,
                           "batch_size": batch_size, "dtype": dtype, "memory_format": "contiguous", "mode": mode,
                           "samples_per_s": samples_per_s, "gflops_per_s": gflops, "peak_fraction": peak,
                           "device_busy_fraction": busy, "noise_iqr_over_median": iqr / median},
            "stats": {"median": median, "iqr": iqr}}


def saved_before_schema(*benches) -> list[dict]:
    """Records of a run saved before the schema version, as the report reads them (blitzbench.store.upgrade)."""
    return store.upgrade({"machine_info": {}, "benchmarks": list(benches)})["benchmarks"]


def cells(row):
    return [c.strip() for c in row.strip("|").split("|")]


def rows(text):
    return [line for line in text.splitlines() if line.startswith("| lenet")]


def test_cpu_beside_cuda_with_speedup():
    text = throughput_table([bench("cpu", 1000.0), bench("cuda", 25000.0)], ["cpu", "cuda"], fmt="github")
    (row,) = rows(text)
    assert cells(row)[:4] == ["lenet", "forward", "64", "eager"]
    assert cells(row)[4] == "1,000" and cells(row)[8] == "25,000"
    assert cells(row)[-1] == "25x"


def test_a_device_that_did_not_run_shows_as_not_run_not_zero():
    text = throughput_table([bench("cpu", 1000.0)], ["cpu", "cuda"], fmt="github")
    (row,) = rows(text)
    assert "not run" in row and row.rstrip(" |").endswith("n/a")
    assert "| 0 " not in row


def test_noise_above_ten_percent_is_marked():
    quiet, noisy = bench("cpu", 1.0, phase="forward"), bench("cpu", 1.0, phase="inference", iqr=0.002)
    text = throughput_table([quiet, noisy], ["cpu"], fmt="github")
    forward, inference = rows(text)
    assert "5%" in forward and "noisy" not in forward
    assert "20% noisy" in inference


def test_rows_follow_model_phase_and_batch_order():
    benches = [bench("cpu", 1.0, phase="step", batch_size=4), bench("cpu", 1.0, phase="forward", batch_size=64),
               bench("cpu", 1.0, phase="forward", batch_size=4)]
    order = [[c.strip() for c in r.strip("|").split("|")][1:3] for r in rows(throughput_table(benches, ["cpu"], "github"))]
    assert order == [["forward", "4"], ["forward", "64"], ["step", "4"]]


def test_model_order_matches_the_registry():
    from blitzbench.cases import MODEL_ORDER
    from reference_models import MODELS

    assert MODEL_ORDER == tuple(MODELS)


def test_each_cuda_mode_is_compared_with_cpu_eager():
    benches = [bench("cpu", 1000.0), bench("cpu", 2000.0, mode="compiled"), bench("cuda", 25000.0),
               bench("cuda", 50000.0, mode="compiled"), bench("cuda", 200000.0, mode="cudagraph"),
               bench("cuda", 30000.0, dtype="bfloat16")]
    table = {tuple(cells(r)[3:5]): cells(r) for r in rows(throughput_table(benches, ["cpu", "cuda"], "github"))}
    # mode, variant -> row; the ratio's denominator is always CPU eager float32 (1,000/s)
    assert table[("eager", "-")][-1] == "25x"
    assert table[("compiled", "-")][-1] == "50x"  # not 50,000 / 2,000
    assert table[("cudagraph", "-")][-1] == "200x" and table[("cudagraph", "-")][5] == "not run"
    assert table[("eager", "bfloat16")][-1] == "30x"


def test_busy_fraction_column_marks_launch_bound_cases():
    benches = [bench("cuda", 1.0, busy=0.12), bench("cuda", 1.0, busy=0.93, batch_size=4096)]
    launch_bound, busy = rows(throughput_table(benches, ["cuda"], "github"))
    assert cells(launch_bound)[-1] == "12% launch-bound"
    assert cells(busy)[-1] == "93%"


def test_one_line_per_model_names_the_fastest_cuda_mode_of_train_step():
    benches = [bench("cuda", 32000.0, phase="train_step"), bench("cuda", 256000.0, phase="train_step", mode="cudagraph"),
               bench("cuda", 60000.0, phase="train_step", mode="compiled"),
               bench("cuda", 1.5e6, phase="train_step", batch_size=4096),
               bench("cuda", 1.6e6, phase="train_step", batch_size=4096, mode="cudagraph"),
               bench("cuda", 9e5, phase="forward", mode="cudagraph"),  # not train_step: not in the line
               bench("cuda", 1000.0, phase="train_step", model="chapter_net")]  # one mode only: no line
    text = throughput_table(benches, ["cuda"], "github")
    lines = [line for line in text.splitlines() if "fastest mode" in line]
    assert lines == ["lenet train_step on cuda, fastest mode: bs64 cudagraph (256,000/s, 8.00x eager); "
                     "bs4096 cudagraph (1,600,000/s, 1.07x eager)"]


def test_older_runs_name_the_mode_compile_mode():
    old = bench("cpu", 1.0)
    info = old["extra_info"]
    info["compile_mode"] = info.pop("mode").replace("eager", "compiled")
    del info["kind"]
    (row,) = rows(throughput_table(saved_before_schema(old), ["cpu"], "github"))
    assert cells(row)[3] == "compiled"


def tta(loop, seconds, device="cuda", mode=None):
    """A time-to-accuracy record; one without ``mode`` is of a run saved before the loops had modes."""
    info = {"kind": "time_to_accuracy", "dataset": "mnist5k", "model": "chapter_net", "device": device,
            "target": 0.95, "loop": loop, "seconds_to_accuracy": seconds, "epochs": 3, "batch_size": 64}
    if mode:
        info["mode"] = mode
    record = {"extra_info": info, "stats": {}}
    return record if mode else saved_before_schema(record)[0]


def test_time_to_accuracy_sets_the_cudagraph_fast_loop_beside_eager():
    from blitzbench.analysis.summary_table import time_to_accuracy_table

    text = time_to_accuracy_table([tta("tutorial", 30.0), tta("fast", 6.0, mode="eager"),
                                   tta("fast", 2.0, mode="cudagraph")], fmt="github")
    header, _, row = text.splitlines()
    assert "fast loop, cudagraph" in header and "fast ÷ fast cudagraph" in header
    assert cells(row)[-2:] == ["5.00x", "3.00x"]
    # a run without the cudagraph loop (a CPU run, an older run without "mode") has no such columns
    plain = time_to_accuracy_table([tta("tutorial", 30.0, "cpu"), tta("fast", 6.0, "cpu")], fmt="github")
    assert "cudagraph" not in plain and cells(plain.splitlines()[2])[-1] == "5.00x"


def test_the_math_each_case_used_is_a_column_where_it_is_not_plain_float32():
    """CUDA float32 cases convolve in TF32 under torch's defaults (torch.backends.cudnn.allow_tf32 is
    True, torch.backends.cuda.matmul.allow_tf32 False; `math` in docs/benchmarks.md); the table says so."""
    tf32 = bench("cuda", 1.0)
    tf32["extra_info"]["math"] = {"matmul_tf32": False, "conv_tf32": True, "autocast": None, "peak_math": "tf32"}
    half = bench("cuda", 1.0, dtype="bfloat16")
    half["extra_info"]["math"] = {"matmul_tf32": False, "conv_tf32": False, "autocast": "bfloat16",
                                  "peak_math": "bfloat16"}
    plain = bench("cpu", 1.0)
    plain["extra_info"]["math"] = {"matmul_tf32": False, "conv_tf32": False, "autocast": None, "peak_math": "float32"}
    text = throughput_table([tf32, half, plain], ["cpu", "cuda"], "github")
    header = text.splitlines()[0]
    assert "cuda math" in header and "cpu math" not in header
    column = cells(header).index("cuda math")
    labels = {cells(r)[4]: cells(r)[column] for r in rows(text)}  # variant -> cuda math
    assert labels == {"-": "tf32 conv", "bfloat16": "bfloat16 autocast"}


def test_the_legend_names_each_peak_with_its_math():
    from blitzbench.analysis.summary_table import legend

    text = legend({"cpu": {"gflops_per_s": 190.0, "n": 1024, "math": "float32"},
                   "cuda tf32": {"gflops_per_s": 400000.0, "n": 8192, "math": "tf32"}}, {})
    assert "cpu float32 190 GFLOP/s" in text and "cuda tf32 400,000 GFLOP/s" in text and "cuda busy" in text


def test_the_legend_says_why_each_missing_gflops_figure_is_missing():
    from blitzbench.analysis.summary_table import legend
    from blitzbench.figures import STEP_HAS_NO_FLOPS
    from blitzbench.store import INFERENCE_FLOPS_BEFORE_2_6

    def bench(phase, torch_version, gflops=None, **recorded):
        return {"extra_info": {"phase": phase, "torch_version": torch_version, "samples_per_s": 1000.0,
                               "gflops_per_s": gflops, **recorded}}

    saved_by_2_4_1 = [bench("forward", "2.4.1+cu121", 0.5), bench("inference", "2.4.1+cu121"),
                      bench("inference", "2.4.1+cu121"), bench("step", "2.4.1+cu121")]
    text = legend({}, {}, benchmarks=saved_before_schema(*saved_by_2_4_1))  # no reasons recorded: the known ones
    assert f"GFLOP/s n/a (2 cases: inference): {INFERENCE_FLOPS_BEFORE_2_6}" in text
    assert f"GFLOP/s n/a (1 case: step): {STEP_HAS_NO_FLOPS}" in text
    assert "forward" not in text
    recorded = legend({}, {}, benchmarks=[bench("inference", "2.15.0", flops_missing="a recorded reason")])
    assert "GFLOP/s n/a (1 case: inference): a recorded reason" in recorded
    assert "GFLOP/s n/a" not in legend({}, {}, benchmarks=[bench("inference", "2.15.0", 0.7)])


def test_distributed_errors_are_shown_under_their_new_and_their_former_names():
    from blitzbench.analysis.summary_table import distributed_table

    def run(**errors):
        info = {"kind": "distributed", "backend": "gloo", "model": "chapter_net", "world_size": 2,
                "global_batch_size": 128, "samples_per_s": 100.0, "single_process_samples_per_s": 60.0,
                "scaling_efficiency": 0.83, **errors}
        return {"extra_info": info, "stats": {}}

    new = distributed_table([run(grad_max_rel_err=1e-7, param_max_rel_err=2e-7)], "github")
    old = distributed_table(saved_before_schema(run(grad_max_abs_err=1e-7, param_max_abs_err=2e-7)), "github")
    assert "grad / param rel. error" in new and "1.0e-07 / 2.0e-07" in new
    assert new == old


def test_time_to_accuracy_shows_the_median_over_seeds_and_their_range():
    from blitzbench.analysis.summary_table import time_to_accuracy_table

    fast = tta("fast", 1.2, device="cpu")
    fast["extra_info"].update(seconds_per_seed=[1.1, 1.2, 1.4])
    text = time_to_accuracy_table([tta("tutorial", 6.0, "cpu"), fast], fmt="github")
    assert "1.20 s [1.10-1.40] (3 seeds, 3 ep, batch 64)" in text


def test_counted_cpu_cases_show_their_instructions_and_a_missing_count_its_reason():
    counted, missing = bench("cpu", 1000.0, phase="forward"), bench("cpu", 900.0, phase="step")
    counted["extra_info"].update(instructions_per_call=2_824_877.0, instructions_spread=0.0005)
    missing["extra_info"]["instructions_missing"] = "a counting process (valgrind) ended with exit status 1"
    text = throughput_table([counted, missing, bench("cuda", 5000.0)], ["cpu", "cuda"], fmt="github")
    assert "cpu instructions/call (spread)" in text.splitlines()[0]
    forward, step = rows(text)
    assert cells(forward)[8] == "2,824,877 (0.05%)"
    assert cells(step)[8] == "missing: a counting process (valgrind) ended with exit status 1"
    assert "instructions" not in throughput_table([bench("cpu", 1000.0)], ["cpu"], fmt="github")
