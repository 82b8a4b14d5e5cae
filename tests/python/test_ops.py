"""rm_abstract.ops: every Tier-1 op against the reference implementation (the
conformance oracle) or numpy, with numpy and torch inputs, on each device."""

from __future__ import annotations

import importlib
import threading

import numpy as np
import pytest

import rm_abstract
from rm_abstract import ops

rng = np.random.default_rng(0)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def q8_0_bytes(n: int, k: int) -> np.ndarray:
    """Random q8_0 blocks (f16 scale + 32 int8) as uint8[n, k / 32 * 34]."""
    blocks = np.zeros((n, k // 32, 34), np.uint8)
    scales = (rng.random((n, k // 32)) * 0.05 + 0.01).astype(np.float16)
    blocks[:, :, :2] = scales.view(np.uint8).reshape(n, k // 32, 2)
    blocks[:, :, 2:] = rng.integers(-127, 128, (n, k // 32, 32), dtype=np.int8).view(np.uint8)
    return blocks.reshape(n, -1)


# name -> (function, args, kwargs); inputs are numpy here, torch versions made from them.
CASES = {
    "linear": (ops.linear, [f32(5, 16), f32(8, 16), f32(8)], dict(activation="silu")),
    "linear_no_bias": (ops.linear, [f32(3, 16), f32(4, 16)], {}),
    "quant_linear_f16": (ops.quant_linear, [f32(3, 32), f32(8, 32).astype(np.float16)], {}),
    "quant_linear_q8_0": (ops.quant_linear, [f32(3, 64), q8_0_bytes(8, 64)], dict(w_dtype="q8_0")),
    "rms_norm": (ops.rms_norm, [f32(4, 16), f32(16)], dict(eps=1e-6)),
    "add_rms_norm": (ops.add_rms_norm, [f32(4, 16), f32(4, 16), f32(16)], {}),
    "layer_norm": (ops.layer_norm, [f32(4, 16), f32(16), f32(16)], {}),
    "rope": (ops.rope, [f32(5, 4, 8), f32(5, 2, 8), np.arange(5, dtype=np.int32) * 3], dict(theta=500.0)),
    "rope_gptj": (ops.rope, [f32(5, 4, 8), f32(5, 2, 8), np.arange(5, dtype=np.int32)], dict(style="gptj")),
    "prefill_attention": (ops.prefill_attention,
                          [f32(6, 4, 8), f32(6, 2, 8), f32(6, 2, 8), np.array([0, 2, 6], np.int32)], {}),
    "paged_decode_attention": (ops.paged_decode_attention,
                               [f32(2, 4, 8), f32(4, 4, 2, 8), f32(4, 4, 2, 8),
                                np.array([[0, 1], [2, 3]], np.int32), np.array([5, 7], np.int32)], {}),
    "silu_and_mul": (ops.silu_and_mul, [f32(3, 16)], {}),
    "gelu_and_mul": (ops.gelu_and_mul, [f32(3, 16)], dict(approximate_tanh=True)),
    "embedding": (ops.embedding, [np.array([3, 0, 9, 3], np.int32), f32(10, 8)], {}),
    "moe_gating_topk_softmax": (ops.moe_gating_topk_softmax, [f32(3, 6), 2], {}),
    "sample_greedy": (ops.sample, [f32(2, 50)], {}),
    "softmax": (ops.softmax, [f32(3, 7)], {}),
    "log_softmax": (ops.log_softmax, [f32(3, 7)], {}),
    "add": (ops.add, [f32(3, 1, 4), f32(5, 4)], {}),
    "mul": (ops.mul, [f32(3, 4), f32(4)], {}),
}


def as_list(result):
    return list(result) if isinstance(result, tuple) else [result]


def to_torch(args):
    import torch

    return [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args]


def close(got, want, tol):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("case", sorted(CASES))
def test_op_matches_reference_numpy(case, device):
    fn, args, kwargs = CASES[case]
    want = as_list(fn(*args, **kwargs, device="reference"))
    got = as_list(fn(*args, **kwargs, device=device))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert isinstance(g, np.ndarray)
        assert g.dtype == w.dtype
        close(g, w, 2e-3 if case.startswith("quant") else 1e-4)


@pytest.mark.parametrize("case", sorted(CASES))
def test_op_takes_and_returns_torch(case, device):
    import torch

    fn, args, kwargs = CASES[case]
    want = as_list(fn(*args, **kwargs, device="reference"))
    got = as_list(fn(*to_torch(args), **kwargs, device=device))
    for g, w in zip(got, want):
        assert isinstance(g, torch.Tensor)
        close(g.numpy(), w, 2e-3 if case.startswith("quant") else 1e-4)


def test_against_numpy(device):
    a, b = f32(3, 1, 4), f32(5, 4)
    close(ops.add(a, b, device=device), a + b, 1e-6)
    close(ops.mul(a, b, device=device), a * b, 1e-6)
    x = f32(4, 9)
    e = np.exp(x - x.max(-1, keepdims=True))
    close(ops.softmax(x, device=device), e / e.sum(-1, keepdims=True), 1e-5)
    w = f32(9)
    close(ops.rms_norm(x, w, 1e-5, device=device),
          x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-5) * w, 1e-5)
    W, bias = f32(6, 9), f32(6)
    close(ops.linear(x, W, bias, device=device), x @ W.T + bias, 1e-4)
    logits = f32(3, 40)
    assert ops.sample(logits, device=device).tolist() == logits.argmax(-1).tolist()


def test_fill_kv_cache_writes_in_place(device):
    import torch

    k, v = f32(3, 2, 8), f32(3, 2, 8)
    slots = np.array([0, 5, 9], np.int32)
    for make in (np.zeros, lambda s, dtype: torch.zeros(s, dtype=torch.float32)):
        k_cache, v_cache = make((4, 4, 2, 8), dtype=np.float32), make((4, 4, 2, 8), dtype=np.float32)
        kc, vc = ops.fill_kv_cache(k, v, slots, k_cache, v_cache, device=device)
        assert kc is k_cache and vc is v_cache
        flat_k = np.asarray(k_cache).reshape(16, 2, 8)
        flat_v = np.asarray(v_cache).reshape(16, 2, 8)
        close(flat_k[[0, 5, 9]], k, 0)
        close(flat_v[[0, 5, 9]], v, 0)
        assert not np.asarray(flat_k[1]).any()


def test_fill_kv_cache_refuses_a_copy():
    k_cache = np.zeros((4, 2, 4, 2, 8), np.float32)[:, 0]  # not contiguous
    with pytest.raises(ValueError, match="k_cache"):
        ops.fill_kv_cache(f32(1, 2, 8), f32(1, 2, 8), np.array([0], np.int32), k_cache,
                          np.zeros((4, 4, 2, 8), np.float32), device="cpu")


def test_sampling_is_seeded(device):
    logits = f32(4, 64)
    a = ops.sample(logits, temperature=0.9, top_k=20, seed=11, device=device)
    b = ops.sample(logits, temperature=0.9, top_k=20, seed=11, device=device)
    assert a.tolist() == b.tolist() and a.dtype == np.int32


def test_cpu_results_share_memory_with_the_device_buffer():
    x = f32(1000)
    y = ops.add(x, x, device="cpu")
    assert not y.flags.owndata  # a view of the tensor's buffer, not a copy
    import torch

    t = ops.add(torch.from_numpy(x), torch.from_numpy(x), device="cpu")
    close(t.numpy(), 2 * x, 1e-6)


def test_non_contiguous_and_list_inputs(device):
    x = f32(8, 6)[:, ::2]
    close(ops.add(x, x, device=device), 2 * x, 1e-6)
    close(ops.add([1.0, 2.0], np.float32(1.0) * np.ones(2, np.float32), device=device), [2, 3], 0)


@pytest.mark.parametrize("call, argument", [
    (lambda: ops.rms_norm(f32(2, 8), f32(4), device="cpu"), "'w'"),
    (lambda: ops.linear(f32(2, 8), f32(3, 5), device="cpu"), "'w'"),
    (lambda: ops.linear(np.ones((2, 8), np.int32), f32(3, 8), device="cpu"), "'x'"),
    (lambda: ops.embedding(np.array([0.5], np.float32), f32(4, 2), device="cpu"), "'ids'"),
    (lambda: ops.linear(f32(2, 8), f32(3, 8), activation="swish", device="cpu"), "activation"),
    (lambda: ops.quant_linear(f32(2, 64), np.zeros((3, 33), np.uint8), w_dtype="q8_0", device="cpu"), "'w'"),
    (lambda: ops.add("text", f32(2), device="cpu"), "'a'"),
])
def test_schema_errors_name_the_argument(call, argument):
    with pytest.raises(ValueError) as e:
        call()
    assert argument in str(e.value)


def test_each_op_has_its_own_module():
    for name in ops.__all__:
        module = importlib.import_module(f"rm_abstract.ops.{name}")
        assert callable(getattr(module, name))


def test_threads_run_ops_concurrently(device):
    x, w = f32(64, 256), f32(256, 256)
    want = ops.linear(x, w, device="cpu")
    results, failures = [], []

    def work():
        try:
            for _ in range(5):
                results.append(ops.linear(x, w, device=device))
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures and len(results) == 20
    for r in results:
        close(r, want, 1e-3)


def test_ops_run_on_the_init_device(device):
    rm_abstract.init(device=device)
    try:
        a = f32(3)
        close(ops.add(a, a), 2 * a, 1e-6)
    finally:
        rm_abstract.shutdown()
