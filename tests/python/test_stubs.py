"""The package is typed (py.typed, annotations) and _rma.pyi names exactly what
the native module has."""

from __future__ import annotations

import ast
import inspect
import os

import rm_abstract
from rm_abstract import _rma


def stub_names():
    path = os.path.join(os.path.dirname(rm_abstract.__file__), "_rma.pyi")
    tree = ast.parse(open(path).read())
    top, classes = set(), {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            top.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            top.add(node.target.id)
        elif isinstance(node, ast.ClassDef):
            top.add(node.name)
            classes[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
    return top, classes


def test_stub_matches_the_native_module():
    top, classes = stub_names()
    assert top == {n for n in dir(_rma) if not n.startswith("__")} | {"__version__"}
    for cls, methods in classes.items():
        assert methods == {n for n in dir(getattr(_rma, cls)) if not n.startswith("_")}, cls


def test_public_api_is_annotated():
    assert os.path.exists(os.path.join(os.path.dirname(rm_abstract.__file__), "py.typed"))
    for name in ("init", "shutdown", "switch_device", "get_device_info", "get_available_backends",
                 "is_initialized", "compile"):
        sig = inspect.signature(getattr(rm_abstract, name))
        assert sig.return_annotation is not inspect.Signature.empty, name
    for name in rm_abstract.ops.__all__:
        assert getattr(rm_abstract.ops, name).__doc__ or name in ("add", "mul")
