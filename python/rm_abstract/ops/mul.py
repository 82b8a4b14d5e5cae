"""rm_abstract.ops.mul: a * b with numpy broadcasting."""

from __future__ import annotations

from typing import Any, Optional

from ._call import call


def mul(a: Any, b: Any, *, device: Optional[str] = None) -> Any:
    return call("mul", [a, b], None, device=device)[0]
