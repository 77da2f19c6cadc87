"""The variants a routine is checked in, enumerated once: the dtypes and the memory layouts; and how
a check runs torch in one of them: placing an input in a layout on a device, the float64 copy the
from-definition reference reads, and skipping with torch's own words where a release has no kernel
for a dtype.

A check of one variant vouches for no other (each dtype and each layout can reach a kernel of its
own), so the verification checks of bench/ that run a routine in several variants draw them from
here: every such check then covers the same ones, named the same way in its test ids."""

from __future__ import annotations

import pytest
import torch

# The floating dtypes, widest first; the names are the test ids.
FLOATS = {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# The integer dtypes, widest first; the names are the test ids.
INTEGERS = {"int64": torch.int64, "int32": torch.int32, "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8}
# The 16-bit floating dtypes: a result in one is judged against a bound derived from its unit
# roundoff (blitzbench.measure.tolerances.rounded_result_bound), not by assert_close.
REDUCED = (torch.bfloat16, torch.float16)


def strided(t: torch.Tensor) -> torch.Tensor:
    """The same values, every dimension taken with step 2 from a tensor twice as large (a 0-d
    tensor has no dimension to take so: it is returned as it is)."""
    if t.dim() == 0:
        return t
    big = t.new_zeros([2 * s for s in t.shape])
    view = big[tuple(slice(None, None, 2) for _ in t.shape)]
    view.copy_(t)
    return view


def reversed_storage(t: torch.Tensor) -> torch.Tensor:
    """The same values, the dimensions stored in reverse order (for a matrix: its transpose's storage)."""
    order = list(range(t.dim()))[::-1]
    return t.permute(order).contiguous().permute(order)


# Each memory layout, by the name the test ids use: a function giving the same values in it.
# channels_last applies to 4-d tensors only and leaves any other as it is.
LAYOUTS = {
    "contiguous": lambda t: t.contiguous(),
    "channels_last": lambda t: t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t,
    "strided": strided,
    "reversed": reversed_storage,
}


def placed(t: torch.Tensor, layout: str, device: str) -> torch.Tensor:
    """``t`` moved to ``device`` and stored in the memory layout named ``layout`` (a key of LAYOUTS)."""
    return LAYOUTS[layout](t.to(device))


def reference_input(t: torch.Tensor, integers: torch.dtype = torch.int64) -> torch.Tensor:
    """The reference's copy of an input: the same values, on the CPU, in float64; an integer input
    in ``integers``: int64, where the reference computes exactly in integers, or float64, where
    its formula divides or takes logarithms."""
    return t.detach().to("cpu", torch.float64 if t.is_floating_point() else integers)


def run_or_skip(call, what: str):
    """``call()``, torch running a routine; where this release has no kernel for the dtype (torch
    raises "... not implemented for '<dtype>'"), the test skips with torch's own message, so that a
    missing kernel reads as a gap of the release, not as a failure of the check."""
    try:
        return call()
    except (RuntimeError, NotImplementedError) as error:
        if "not implemented for" in str(error):
            pytest.skip(f"{what}: torch {torch.__version__}: {error}")
        raise
