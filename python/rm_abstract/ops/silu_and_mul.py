"""rm_abstract.ops.silu_and_mul: y = silu(x[..., :I]) * x[..., I:] (the SwiGLU gate)."""

from __future__ import annotations

from typing import Any, Optional

from ._call import call


def silu_and_mul(x: Any, *, device: Optional[str] = None) -> Any:
    """x[..., 2I] -> y[..., I]."""
    return call("silu_and_mul", [x], None, device=device)[0]
