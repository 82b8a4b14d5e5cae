"""Per-op functions: every Tier-1 op of the RM Abstract Layer (docs/ops.md),
each in its own module (rm_abstract.ops.rms_norm, ...), on numpy arrays or
any DLPack tensor (torch included).

Arrays are used in place when they are C-contiguous host memory and the
device shares host memory (the CPU): no copy in, results are views of the
device's buffers. Results come back as the kind that went in (torch in,
torch out; numpy otherwise), on the input's device. Ops run on the current
device (rm_abstract.init / switch_device) unless `device=` names one
("reference" runs the reference implementation). The GIL is released while
a kernel runs. A schema error raises rm_abstract.InvalidArgumentError, a
ValueError whose message names the op and the argument.
"""

from .add import add
from .add_rms_norm import add_rms_norm
from .embedding import embedding
from .fill_kv_cache import fill_kv_cache
from .gelu_and_mul import gelu_and_mul
from .layer_norm import layer_norm
from .linear import linear
from .log_softmax import log_softmax
from .moe_gating_topk_softmax import moe_gating_topk_softmax
from .mul import mul
from .paged_decode_attention import paged_decode_attention
from .prefill_attention import prefill_attention
from .quant_linear import quant_linear
from .rms_norm import rms_norm
from .rope import rope
from .sample import sample
from .silu_and_mul import silu_and_mul
from .softmax import softmax

__all__ = [
    "add",
    "add_rms_norm",
    "embedding",
    "fill_kv_cache",
    "gelu_and_mul",
    "layer_norm",
    "linear",
    "log_softmax",
    "moe_gating_topk_softmax",
    "mul",
    "paged_decode_attention",
    "prefill_attention",
    "quant_linear",
    "rms_norm",
    "rope",
    "sample",
    "silu_and_mul",
    "softmax",
]
