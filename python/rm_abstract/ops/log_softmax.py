"""rm_abstract.ops.log_softmax: log of the softmax over the last axis (the softmax op, log form)."""

from __future__ import annotations

from typing import Any, Optional

from ._call import call


def log_softmax(x: Any, *, device: Optional[str] = None) -> Any:
    """x[..., N] -> y[..., N]."""
    return call("softmax", [x], dict(log=True), device=device)[0]
