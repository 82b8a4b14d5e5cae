"""rm_abstract.ops.rope: rotary position embedding of queries and keys."""

from __future__ import annotations

from typing import Any, Optional, Tuple

from ._call import call


def rope(
    q: Any,
    k: Any,
    positions: Any,
    *,
    theta: float = 10000.0,
    style: str = "neox",
    rotary_dim: int = 0,
    scaling: str = "none",
    factor: float = 1.0,
    low_freq_factor: float = 1.0,
    high_freq_factor: float = 4.0,
    original_max_position: int = 8192,
    device: Optional[str] = None,
) -> Tuple[Any, Any]:
    """q[T, Hq, D], k[T, Hkv, D], positions[T] (int32) -> (q', k').

    style: "neox" rotates pairs (i, i + rotary_dim/2), "gptj" adjacent pairs;
    rotary_dim 0 means D; scaling: "none", "linear" (positions / factor) or
    "llama3" (with the low/high frequency factors)."""
    attrs = dict(theta=theta, style=style, rotary_dim=rotary_dim, scaling=scaling, factor=factor,
                 low_freq_factor=low_freq_factor, high_freq_factor=high_freq_factor,
                 original_max_position=original_max_position)
    q2, k2 = call("rope", [q, k, positions], attrs, device=device)
    return q2, k2
