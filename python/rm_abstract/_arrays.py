"""Python arrays on their way into the native core: which framework an
argument belongs to, and a C-contiguous host version of it (no copy when it
already is one)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from .errors import InvalidArgumentError


def _is_torch(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def framework_of(x: Any) -> str:
    """"torch" for torch tensors, "numpy" for everything else (numpy, DLPack producers, lists)."""
    return "torch" if _is_torch(x) else "numpy"


def to_host_contiguous(x: Any, what: str) -> Any:
    """`x` as a C-contiguous host array the extension takes through DLPack."""
    if _is_torch(x):
        t = x.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        return t.contiguous()
    if isinstance(x, np.ndarray):
        return np.ascontiguousarray(x)
    if hasattr(x, "__dlpack__"):
        try:
            return np.ascontiguousarray(np.from_dlpack(x))
        except (TypeError, RuntimeError, BufferError) as e:
            raise InvalidArgumentError(f"{what}: cannot read it through DLPack: {e}") from None
    if isinstance(x, (list, tuple, int, float, bool)):
        a = np.asarray(x)
        # Python floats are doubles; the ops compute in float32.
        return np.ascontiguousarray(a.astype(np.float32) if a.dtype == np.float64 else a)
    raise InvalidArgumentError(
        f"{what}: expected a numpy array or a DLPack tensor (torch), got {type(x).__name__}"
    )


def restore_device(result: Any, like: Any) -> Any:
    """A torch result moved back to the device of the torch tensor `like` came from."""
    if _is_torch(like) and _is_torch(result) and like.device.type != "cpu":
        return result.to(like.device)
    return result
