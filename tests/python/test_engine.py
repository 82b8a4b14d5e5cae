"""The native engine over weights in memory (ModelFile::from_memory +
Engine::create): errors name the tensor or field; the engine keeps the
weights it wraps alive."""

from __future__ import annotations

import gc
import json

import numpy as np
import pytest

import rm_abstract
from rm_abstract import _rma

CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 32,
    "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
    "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 64,
    "rms_norm_eps": 1e-5, "tie_word_embeddings": True,
}


def weights(dtype=np.float32):
    rng = np.random.default_rng(0)
    shapes = {
        "model.embed_tokens.weight": (32, 16), "model.norm.weight": (16,),
        "model.layers.0.input_layernorm.weight": (16,),
        "model.layers.0.post_attention_layernorm.weight": (16,),
        "model.layers.0.self_attn.q_proj.weight": (16, 16),
        "model.layers.0.self_attn.k_proj.weight": (8, 16),
        "model.layers.0.self_attn.v_proj.weight": (8, 16),
        "model.layers.0.self_attn.o_proj.weight": (16, 16),
        "model.layers.0.mlp.gate_proj.weight": (32, 16),
        "model.layers.0.mlp.up_proj.weight": (32, 16),
        "model.layers.0.mlp.down_proj.weight": (16, 32),
    }
    return [(n, rng.standard_normal(s).astype(dtype)) for n, s in shapes.items()]


def test_engine_from_memory_runs_and_keeps_weights_alive():
    tensors = weights()
    engine = _rma.Engine.from_memory(json.dumps(CONFIG), tensors, tensors, "tiny", "cpu")
    del tensors
    gc.collect()
    seq = engine.new_sequence()
    logits = engine.forward([seq], [[1, 2, 3]], True)
    assert logits.shape == (3, 32) and np.isfinite(logits).all()
    step = engine.forward([seq], [[4]])
    assert step.shape == (1, 32) and engine.sequence_length(seq) == 4
    engine.free_sequence(seq)
    assert engine.device == "cpu" and engine.config["architecture"] == "llama"


def test_engine_from_memory_errors():
    tensors = weights()
    with pytest.raises(rm_abstract.InvalidArgumentError, match="not valid JSON"):
        _rma.Engine.from_memory("{", tensors, tensors, "tiny", "cpu")
    untied = dict(CONFIG, tie_word_embeddings=False)
    with pytest.raises(rm_abstract.InvalidArgumentError, match="lm_head.weight"):
        _rma.Engine.from_memory(json.dumps(untied), tensors, tensors, "tiny", "cpu")
    bad = [(n, t.astype(np.int32)) if n == "model.norm.weight" else (n, t) for n, t in tensors]
    with pytest.raises(rm_abstract.InvalidArgumentError, match="model.norm.weight"):
        _rma.Engine.from_memory(json.dumps(CONFIG), bad, bad, "tiny", "cpu")
    short = [(n, t) for n, t in tensors if "down_proj" not in n]
    with pytest.raises(rm_abstract.RMAbstractError, match="ffn_down"):
        _rma.Engine.from_memory(json.dumps(CONFIG), short, short, "tiny", "cpu")
    with pytest.raises(rm_abstract.InvalidArgumentError, match="max_batch"):
        _rma.Engine.from_memory(json.dumps(CONFIG), tensors, tensors, "tiny", "cpu", max_batch=0)
