"""rm_abstract.ops.softmax: softmax over the last axis."""

from __future__ import annotations

from typing import Any, Optional

from ._call import call


def softmax(x: Any, *, device: Optional[str] = None) -> Any:
    """x[..., N] -> y[..., N]."""
    return call("softmax", [x], dict(log=False), device=device)[0]
