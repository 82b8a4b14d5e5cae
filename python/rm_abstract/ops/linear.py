"""rm_abstract.ops.linear: y = act(alpha * op(x) . op(w) + bias), w in the linear layout [N, K]."""

from __future__ import annotations

from typing import Any, Optional

from ._call import call


def linear(
    x: Any,
    w: Any,
    bias: Optional[Any] = None,
    *,
    activation: str = "none",
    trans_a: bool = False,
    trans_b: bool = True,
    act_param: float = 0.01,
    alpha: float = 1.0,
    device: Optional[str] = None,
) -> Any:
    """x[..., K] . w[N, K]^T (+ bias[N]) -> y[..., N], then the activation
    ("none", "relu", "leaky_relu" (slope act_param), "gelu", "gelu_tanh", "silu",
    "sigmoid", "tanh")."""
    attrs = dict(activation=activation, trans_a=trans_a, trans_b=trans_b, act_param=act_param,
                 alpha=alpha, precision="accurate")
    return call("linear", [x, w, bias], attrs, device=device)[0]
