"""How close a torch result must be to its reference, per dtype.

The reference runs in float64 on the same inputs; a float64 result must agree to rounding
(rtol 1e-10), a float32 one to float32's precision after sums of a few hundred terms
(rtol 1e-4; atol 1e-5 times the largest expected magnitude, so that values near zero in a
tensor of large ones are judged on the tensor's scale).
"""

from __future__ import annotations

import torch

RTOL = {torch.float64: 1e-10, torch.float32: 1e-4}
ATOL = {torch.float64: 1e-12, torch.float32: 1e-5}


def assert_close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype | None = None, msg: str = "") -> None:
    """Compare ``actual`` (any device) with the float64 ``expected`` at the tolerance of ``dtype``."""
    dtype = dtype or actual.dtype
    expected = expected.detach().to("cpu", torch.float64)
    actual = actual.detach().to("cpu", torch.float64)
    scale = max(1.0, expected.abs().max().item()) if expected.numel() else 1.0
    torch.testing.assert_close(actual, expected, rtol=RTOL[dtype], atol=ATOL[dtype] * scale,
                               msg=(lambda m: f"{msg}: {m}") if msg else None)
