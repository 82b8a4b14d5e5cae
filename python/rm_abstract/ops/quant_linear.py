"""rm_abstract.ops.quant_linear: linear with quantized (or f16/bf16) weights decoded in the kernel."""

from __future__ import annotations

from typing import Any, Optional

from ._call import call


def quant_linear(
    x: Any,
    w: Any,
    bias: Optional[Any] = None,
    *,
    w_dtype: Optional[str] = None,
    activation: str = "none",
    act_param: float = 0.01,
    alpha: float = 1.0,
    precision: str = "accurate",
    device: Optional[str] = None,
) -> Any:
    """x[T, K] . w[N, K]^T (+ bias) -> y[T, N] f32.

    w: f16/bf16 weights, or with w_dtype ("q8_0", "q4_0", "q4_1", "q4_k",
    "q5_k", "q6_k") the quantized blocks as bytes, uint8[N, K / block * block_bytes].
    precision: "accurate" (as f32 from the dequantized weights) or "fast"
    (activations may be rounded to 8 bits)."""
    attrs = dict(activation=activation, trans_a=False, trans_b=True, act_param=act_param,
                 alpha=alpha, precision=precision)
    return call("quant_linear", [x, w, bias], attrs, device=device, packed=[None, w_dtype, None])[0]
