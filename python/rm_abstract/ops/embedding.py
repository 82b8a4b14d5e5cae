"""rm_abstract.ops.embedding: rows of a table by id."""

from __future__ import annotations

from typing import Any, Optional

from ._call import call


def embedding(
    ids: Any,
    table: Any,
    *,
    table_dtype: Optional[str] = None,
    out_dtype: Optional[str] = None,
    device: Optional[str] = None,
) -> Any:
    """ids[T] (int32/int64), table[V, H] -> y[T, H].

    table_dtype: a quantized table passed as its bytes (uint8[V, row bytes]).
    out_dtype: "f32", "f16", "bf16"; default the table's for float tables, f32
    for quantized ones."""
    return call("embedding", [ids, table], None, device=device, packed=[None, table_dtype],
                out_dtype=out_dtype)[0]
