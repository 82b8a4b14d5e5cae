"""rm_abstract.ops.paged_decode_attention: one query per sequence over its paged KV cache."""

from __future__ import annotations

import math
from typing import Any, Optional

from ._call import call


def paged_decode_attention(
    q: Any,
    k_cache: Any,
    v_cache: Any,
    block_table: Any,
    context_lens: Any,
    *,
    scale: Optional[float] = None,
    sliding_window: int = 0,
    alibi_slopes: Optional[Any] = None,
    device: Optional[str] = None,
) -> Any:
    """q[B, Hq, D], k_cache/v_cache [blocks, block_size, Hkv, D], block_table[B, max_blocks]
    (int32), context_lens[B] (int32) -> o[B, Hq, D]. scale defaults to 1/sqrt(D)."""
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    attrs = dict(scale=scale, causal=True, sliding_window=sliding_window)
    inputs = [q, k_cache, v_cache, block_table, context_lens, alibi_slopes]
    return call("paged_decode_attention", inputs, attrs, device=device)[0]
