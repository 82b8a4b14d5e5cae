"""rm_abstract.ops.add_rms_norm: the residual add fused with rms_norm."""

from __future__ import annotations

from typing import Any, Optional, Tuple

from ._call import call


def add_rms_norm(
    x: Any, residual: Any, w: Any, eps: float = 1e-5, *, device: Optional[str] = None
) -> Tuple[Any, Any]:
    """Returns (rms_norm(x + residual, w), x + residual)."""
    y, s = call("add_rms_norm", [x, residual, w], dict(eps=eps), device=device)
    return y, s
