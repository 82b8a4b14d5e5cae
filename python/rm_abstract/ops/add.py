"""rm_abstract.ops.add: a + b with numpy broadcasting."""

from __future__ import annotations

from typing import Any, Optional

from ._call import call


def add(a: Any, b: Any, *, device: Optional[str] = None) -> Any:
    return call("add", [a, b], None, device=device)[0]
