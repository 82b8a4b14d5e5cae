"""rm_abstract.ops.rms_norm: y = x / sqrt(mean(x^2) + eps) * w over the last axis."""

from __future__ import annotations

from typing import Any, Optional

from ._call import call


def rms_norm(x: Any, w: Any, eps: float = 1e-5, *, device: Optional[str] = None) -> Any:
    """x[..., H], w[H] -> y[..., H]."""
    return call("rms_norm", [x, w], dict(eps=eps), device=device)[0]
