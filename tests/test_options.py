"""The option parsers behind --device and --batch-sizes (blitzbench.plugin.options), and the one
whole-number parser the suite's options and the commands read numbers with (blitzbench.values)."""

import subprocess
import sys
from pathlib import Path

import pytest

from blitzbench.plugin.options import parse_batch_sizes, parse_devices, parse_matrix_record
from blitzbench.values import whole_number

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text, expected", [
    ("cpu", ("cpu",)), ("cpu,cuda", ("cpu", "cuda")), (" CUDA , cpu ", ("cuda", "cpu")), ("cpu,cpu", ("cpu",)),
])
def test_parse_devices(text, expected):
    assert parse_devices(text) == expected


@pytest.mark.parametrize("text", ["", ",", "gpu", "cpu,tpu", "cuda:0"])
def test_parse_devices_rejects(text):
    with pytest.raises(ValueError, match="accepted"):
        parse_devices(text)


@pytest.mark.parametrize("text, expected", [("1", (1,)), ("1,4,64", (1, 4, 64)), (" 8 , 2 ", (8, 2)), ("4,4", (4,))])
def test_parse_batch_sizes(text, expected):
    assert parse_batch_sizes(text) == expected


@pytest.mark.parametrize("text", ["", "0", "-4", "4.5", "four", "1,,x", "1e3"])
def test_parse_batch_sizes_rejects(text):
    with pytest.raises(ValueError, match="positive integer"):
        parse_batch_sizes(text)


@pytest.mark.parametrize("text, least, expected", [("64", 1, 64), (" 8 ", 1, 8), ("+4", 1, 4), ("064", 1, 64),
                                                    ("0", 0, 0), ("-3", None, -3)])
def test_the_whole_number_parser_reads_decimal_digits(text, least, expected):
    assert whole_number(text, least) == expected


@pytest.mark.parametrize("text, least, says", [
    ("four", 1, "'four' is not a whole number; accepted: a positive integer"),
    ("4.5", 1, "is not a whole number"), ("1e3", 1, "is not a whole number"), ("1_000", 1, "is not a whole number"),
    ("\u0663", 1, "is not a whole number"),  # ARABIC-INDIC DIGIT THREE: int() reads it, a user did not type it
    ("", 0, "is not a whole number; accepted: a whole number, 0 or more"),
    ("0", 1, "0 is below 1; accepted: a positive integer"), ("-1", 0, "-1 is below 0; accepted: a whole number, 0 or more"),
])
def test_the_whole_number_parser_says_what_is_accepted(text, least, says):
    with pytest.raises(ValueError) as error:
        whole_number(text, least)
    assert says in str(error.value)


@pytest.mark.parametrize("option", ["--device=gpu", "--batch-sizes=0"])
def test_bad_option_is_a_one_line_usage_error(option):
    # Run pytest as a user would; the error is one line, with no traceback, and exit status 4.
    result = subprocess.run([sys.executable, "-m", "pytest", "bench", option, "--collect-only", "-q"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 4
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), lines
    assert "accepted" in lines[0]


def test_matrix_record_options():
    assert parse_matrix_record(None, None, None) is None
    assert parse_matrix_record("torch214", "3", "20261128-010203") == {"series": "torch214", "round": 3,
                                                                       "matrix": "20261128-010203"}
    for series, round_text, says in (("torch214", "0", "positive integer"), ("torch214", "x", "positive integer"),
                                     ("torch214", None, "positive integer"), (None, "2", "need --series"),
                                     (" ", "1", "needs a name")):
        with pytest.raises(ValueError, match=says):
            parse_matrix_record(series, round_text, None)


def test_cuda_benchmarks_add_batches_that_fill_the_gpu():
    """CPU keeps 1-1024; CUDA adds 4096 and 16384 (--batch-sizes in docs/options.md); --batch-sizes
    and --quick override."""
    result = subprocess.run([sys.executable, "-m", "pytest", "bench/test_throughput.py", "--collect-only", "-q",
                             "-p", "no:cacheprovider", "--models=lenet", "--phases=train_step"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    ids = {line.split("[", 1)[1].rstrip("]") for line in result.stdout.splitlines() if "test_throughput[" in line}
    assert {i for i in ids if i.startswith("lenet-cpu")} == {f"lenet-cpu-bs{n}-train_step" for n in (1, 4, 64, 256, 1024)}
    assert {i for i in ids if i.startswith("lenet-cuda")} == {f"lenet-cuda-bs{n}-train_step"
                                                               for n in (1, 4, 64, 256, 1024, 4096, 16384)}
    from blitzbench.plugin.options import default_benchmark_batch_sizes
    assert default_benchmark_batch_sizes("cuda", quick=True) == (4, 64)


def test_every_mode_is_collected_and_the_cuda_graph_modes_skip_on_the_cpu_with_the_reason():
    """--modes (docs/options.md) collects all four modes; reduce-overhead and cudagraph skip on the
    CPU with the reason; --compile-modes, its other name, works too."""
    args = [sys.executable, "-m", "pytest", "bench/test_throughput.py", "-p", "no:cacheprovider", "-rs",
            "--benchmark-disable", "--models=chapter_net", "--phases=train_step,backward", "--batch-sizes=4",
            "--device=cpu", "-k", "reduce-overhead or cudagraph"]
    result = subprocess.run(args + ["--modes=eager,compiled,reduce-overhead,cudagraph"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:]
    out = result.stdout
    assert "4 skipped" in out
    assert "SKIPPED [2] bench/test_throughput.py: reduce-overhead replays CUDA graphs, which need a CUDA device" in out
    assert "SKIPPED [2] bench/test_throughput.py: cudagraph replays CUDA graphs, which need a CUDA device" in out
    collected = subprocess.run(args[:3] + ["--collect-only", "-q", "--models=lenet", "--phases=backward",
                                           "--batch-sizes=64", "--device=cuda", "--compile-modes=eager,cudagraph"],
                               cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "test_throughput[lenet-cuda-bs64-backward-cudagraph]" in collected.stdout
    from blitzbench.cases import Case
    reason = Case.parse("lenet-cuda-bs64-backward-cudagraph").unsupported_reason()
    assert reason and "fresh autograd graph" in reason
    assert Case.parse("lenet-cuda-bs64-train_step-reduce-overhead").mode == "reduce-overhead"
