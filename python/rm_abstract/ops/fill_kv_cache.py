"""rm_abstract.ops.fill_kv_cache: writes keys and values into a paged KV cache, in place."""

from __future__ import annotations

from typing import Any, Optional, Tuple

from ._call import call


def fill_kv_cache(
    k: Any, v: Any, slot_mapping: Any, k_cache: Any, v_cache: Any, *, device: Optional[str] = None
) -> Tuple[Any, Any]:
    """k, v [T, Hkv, D]; slot_mapping[T] (int32; -1 skips a row); k_cache, v_cache
    [blocks, block_size, Hkv, D] are written in place (C-contiguous host arrays).
    Returns (k_cache, v_cache)."""
    call("fill_kv_cache", [k, v, slot_mapping], None, device=device, inplace=[k_cache, v_cache])
    return k_cache, v_cache
