"""rm_abstract.ops.prefill_attention: attention over packed variable-length sequences."""

from __future__ import annotations

import math
from typing import Any, Optional

from ._call import call


def prefill_attention(
    q: Any,
    k: Any,
    v: Any,
    cu_seqlens: Any,
    *,
    scale: Optional[float] = None,
    causal: bool = True,
    sliding_window: int = 0,
    alibi_slopes: Optional[Any] = None,
    device: Optional[str] = None,
) -> Any:
    """q[T, Hq, D], k, v [T, Hkv, D] (Hq a multiple of Hkv), cu_seqlens[B + 1]
    (int32 sequence starts) -> o[T, Hq, D]. scale defaults to 1/sqrt(D)."""
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    attrs = dict(scale=scale, causal=causal, sliding_window=sliding_window)
    return call("prefill_attention", [q, k, v, cu_seqlens, alibi_slopes], attrs, device=device)[0]
