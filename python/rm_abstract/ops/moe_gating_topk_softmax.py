"""rm_abstract.ops.moe_gating_topk_softmax: a mixture-of-experts router's top-k."""

from __future__ import annotations

from typing import Any, Optional, Tuple

from ._call import call


def moe_gating_topk_softmax(
    logits: Any, k: int, *, renormalize: bool = True, device: Optional[str] = None
) -> Tuple[Any, Any]:
    """logits[T, E] -> (weights f32[T, k], ids int32[T, k]): softmax over the
    experts, the k largest (renormalized to sum 1 when asked)."""
    weights, ids = call("moe_gating_topk_softmax", [logits], dict(k=k, renormalize=renormalize),
                        device=device)
    return weights, ids
