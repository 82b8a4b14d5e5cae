"""rm_abstract.Session and rm_abstract.compile over a small ONNX model made here."""

from __future__ import annotations

import numpy as np
import pytest

import rm_abstract

onnx = pytest.importorskip("onnx")


def make_model(path, batch="batch"):
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    w = rng.standard_normal((8, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]),
         helper.make_node("Add", ["h", "b"], ["z"]),
         helper.make_node("Relu", ["z"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 4])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return w, b


def test_session_runs_onnx_and_rmx(tmp_path, device):
    path = tmp_path / "tiny.onnx"
    w, b = make_model(path)
    x = np.random.default_rng(2).standard_normal((3, 8)).astype(np.float32)
    want = np.maximum(x @ w + b, 0)

    s = rm_abstract.Session(path, device=device)
    assert s.device == device
    assert [i[0] for i in s.inputs] == ["x"] and s.inputs[0][2] == ["batch", 8]
    out = s.run({"x": x})
    np.testing.assert_allclose(out["y"], want, rtol=1e-5, atol=1e-5)
    assert isinstance(s.report(), str)

    import torch

    out_t = s.run({"x": torch.from_numpy(x)})
    assert isinstance(out_t["y"], torch.Tensor)
    np.testing.assert_allclose(out_t["y"].numpy(), want, rtol=1e-5, atol=1e-5)

    rmx = rm_abstract.compile(path, tmp_path / "tiny.rmx", target=device, batch_size=3)
    s2 = rm_abstract.Session(rmx, device=device)
    np.testing.assert_allclose(s2.run({"x": x})["y"], want, rtol=1e-5, atol=1e-5)
    assert rm_abstract.Session(path, device=device).cache_hit


def test_session_errors(tmp_path):
    path = tmp_path / "tiny.onnx"
    make_model(path)
    s = rm_abstract.Session(path, device="cpu")
    with pytest.raises(ValueError, match="x"):
        s.run({"x": np.zeros((3, 5), np.float32)})
    with pytest.raises(rm_abstract.RMAbstractError):
        rm_abstract.Session(tmp_path / "missing.onnx")
    with pytest.raises(ValueError, match="inputs"):
        s.run([np.zeros((3, 8), np.float32)])


def test_init_compile_options_are_session_defaults(tmp_path):
    path = tmp_path / "tiny.onnx"
    make_model(path)
    rm_abstract.init(device="cpu", compile_options={"batch_size": 2, "use_cache": False})
    try:
        s = rm_abstract.Session(path)
        assert s.inputs[0][2] == [2, 8] or s.run({"x": np.zeros((2, 8), np.float32)})["y"].shape == (2, 4)
        assert not s.cache_hit
    finally:
        rm_abstract.shutdown()
