"""rm_abstract.ops.sample: next-token ids from logits (greedy or sampled)."""

from __future__ import annotations

from typing import Any, Optional

from ._call import call


def sample(
    logits: Any,
    *,
    temperature: float = 0.0,
    top_k: int = 0,
    top_p: float = 1.0,
    min_p: float = 0.0,
    repetition_penalty: float = 1.0,
    seed: int = 0,
    prev_tokens: Optional[Any] = None,
    device: Optional[str] = None,
) -> Any:
    """logits[B, V] -> ids int32[B]. temperature <= 0 is greedy argmax;
    prev_tokens[B, L] (int32, -1 padded) feed the repetition penalty. The same
    seed gives the same ids."""
    attrs = dict(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p,
                 repetition_penalty=repetition_penalty, seed=seed)
    return call("sample", [logits, prev_tokens], attrs, device=device)[0]
