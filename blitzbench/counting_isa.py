"""The instruction sets counted kernels may use (``--counting-isa``): the settings, the default,
and the setting a saved counted run was made under. Torch-free: the report reads it.

valgrind shows the counted program an AVX2 CPU with FMA3 (it hides AVX-512) and runs every FMA
instruction through a software helper, hundreds of times slower than a multiply and an add.
oneDNN's convolutions and MKL's sgemm take their FMA kernels there, and counting spends most of its
time in that helper. "avx" caps both libraries at AVX, without FMA: oneDNN's forward convolutions
run jit:avx (the same family, a multiply and an add for each FMA), its backward convolutions its
gemm-based path, and MKL's sgemm its SSE4.2 kernels. torch's own vectorised kernels (ATen's AVX2)
are counted as they are under either setting. "native" counts what valgrind's CPU selects, FMA
kernels included. The measurement behind the default: docs/benchmarks.md, "Which kernels are
counted", and results/counting-isa/.
"""

from __future__ import annotations

SETTINGS = {
    "avx": {"DNNL_MAX_CPU_ISA": "AVX", "ONEDNN_MAX_CPU_ISA": "AVX", "MKL_ENABLE_INSTRUCTIONS": "AVX"},
    "native": {},
}
DESCRIPTIONS = {
    "avx": "oneDNN and MKL capped at AVX, no FMA",
    "native": "the kernels valgrind's CPU selects, FMA included",
}
DEFAULT = "avx"
# Counted runs saved before the setting was recorded counted what valgrind's CPU selects.
UNRECORDED = "native"
VARIABLES = sorted({name for environment in SETTINGS.values() for name in environment})


def environment(setting: str, base: dict) -> dict:
    """``base`` (an environment) with the libraries' caps as ``setting`` says; the caps of any other
    setting removed, so that "native" is native whatever ``base`` holds."""
    env = {k: v for k, v in base.items() if k not in VARIABLES}
    env.update(SETTINGS[setting])
    return env


def of_record(instructions_record: dict) -> str:
    """The setting a counted run's ``machine_info["instructions"]`` says it was made under."""
    setting = instructions_record.get("counting_isa") if isinstance(instructions_record, dict) else None
    return setting if isinstance(setting, str) and setting else UNRECORDED
