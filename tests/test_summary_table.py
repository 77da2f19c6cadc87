"""The end-of-run table: devices side by side, speedup, noise marks, devices that did not run."""

from bench.summary_table import throughput_table


def bench(device, samples_per_s, median=0.01, iqr=0.0005, phase="forward", batch_size=64, gflops=1.0, peak=0.5):
    return {"extra_info": {"model": "lenet", "phase": phase, "device": device, "batch_size": batch_size,
                           "dtype": "float32", "memory_format": "contiguous", "mode": "eager",
                           "samples_per_s": samples_per_s, "gflops_per_s": gflops, "peak_fraction": peak},
            "stats": {"median": median, "iqr": iqr}}


def rows(text):
    return [line for line in text.splitlines() if line.startswith("| lenet")]


def test_cpu_beside_cuda_with_speedup():
    text = throughput_table([bench("cpu", 1000.0), bench("cuda", 25000.0)], ["cpu", "cuda"], fmt="github")
    (row,) = rows(text)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:3] == ["lenet", "forward", "64"]
    assert cells[3] == "1,000" and cells[7] == "25,000"
    assert cells[-1] == "25x"


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
    from bench.cases import MODEL_ORDER
    from reference_models import MODELS

    assert MODEL_ORDER == tuple(MODELS)
