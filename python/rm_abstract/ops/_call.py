"""The one path every rm_abstract.ops function takes into the native core:
arrays made C-contiguous on the host (no copy when they already are), the
op run on the device with the GIL released, results returned in the
caller's framework (torch in, torch out; numpy otherwise)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from .. import _rma
from .._arrays import framework_of, restore_device, to_host_contiguous
from .._state import current_device, resolve_device
from ..errors import InvalidArgumentError


def _device(device: Optional[str]) -> str:
    if device is None:
        return current_device()
    return "reference" if device == "reference" else resolve_device(device)


def call(
    op: str,
    inputs: Sequence[Any],
    attrs: Optional[Dict[str, Any]] = None,
    *,
    device: Optional[str] = None,
    packed: Optional[Sequence[Optional[str]]] = None,
    inplace: Sequence[Any] = (),
    out_dtype: Optional[str] = None,
) -> List[Any]:
    """Runs `op` on `inputs` (None: an absent optional input); returns its outputs.

    device: a device name, None for the current one, or "reference" for the
    reference implementation (the oracle of the conformance tests).
    packed[i]: input i is a quantized tensor passed as its bytes (uint8).
    inplace: arrays the op writes into (fill_kv_cache's caches).
    """
    input_names, output_names = _rma.op_signature(op)
    like = next((x for x in inputs if x is not None), None)
    framework = framework_of(like)
    host: List[Any] = []
    for i, x in enumerate(inputs):
        name = input_names[min(i, len(input_names) - 1)].rstrip("?")
        host.append(None if x is None else to_host_contiguous(x, f"{op}: argument '{name}'"))
    writable: List[Any] = []
    for i, x in enumerate(inplace):
        name = output_names[i]
        h = to_host_contiguous(x, f"{op}: argument '{name}'")
        if h is not x and not (framework_of(x) == "torch" and h.data_ptr() == x.data_ptr()):
            raise InvalidArgumentError(
                f"{op}: argument '{name}': written in place, so it must be a C-contiguous host array"
            )
        writable.append(h)
    outputs = _rma.run_op(
        op,
        host,
        list(packed) if packed else [],
        dict(attrs or {}),
        writable,
        _device(device),
        framework,
        out_dtype,
    )
    return [restore_device(y, like) for y in outputs]
