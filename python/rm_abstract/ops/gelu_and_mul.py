"""rm_abstract.ops.gelu_and_mul: y = gelu(x[..., :I]) * x[..., I:] (the GeGLU gate)."""

from __future__ import annotations

from typing import Any, Optional

from ._call import call


def gelu_and_mul(x: Any, *, approximate_tanh: bool = False, device: Optional[str] = None) -> Any:
    """x[..., 2I] -> y[..., I]; gelu by erf, or by tanh with approximate_tanh."""
    return call("gelu_and_mul", [x], dict(approximate_tanh=approximate_tanh), device=device)[0]
