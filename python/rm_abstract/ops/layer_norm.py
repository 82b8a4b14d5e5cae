"""rm_abstract.ops.layer_norm: y = (x - mean) / sqrt(var + eps) * w (+ b) over the last axis."""

from __future__ import annotations

from typing import Any, Optional

from ._call import call


def layer_norm(
    x: Any, w: Any, b: Optional[Any] = None, eps: float = 1e-5, *, device: Optional[str] = None
) -> Any:
    """x[..., H], w[H], b[H] (optional) -> y[..., H]."""
    return call("layer_norm", [x, w, b], dict(eps=eps), device=device)[0]
