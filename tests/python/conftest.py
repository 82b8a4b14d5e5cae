"""Shared fixtures of the rm_abstract tests.

Devices come from --rma-devices (ctest passes cpu or cpu,opencl:0); a device
that is not present on this machine is skipped with the reason. Tiny
random-weight models are made here with transformers' own config classes and
save_pretrained: nothing is downloaded.
"""

from __future__ import annotations

import os
import warnings

import pytest


def pytest_addoption(parser):
    parser.addoption("--rma-devices", default=os.environ.get("RMA_TEST_DEVICES", "cpu"),
                     help="comma-separated devices to run on (default: cpu)")


def pytest_generate_tests(metafunc):
    if "device" in metafunc.fixturenames:
        devices = [d for d in metafunc.config.getoption("--rma-devices").split(",") if d]
        metafunc.parametrize("device", devices, indirect=True)


@pytest.fixture
def device(request):
    import rm_abstract

    names = [d["name"] for d in rm_abstract.list_devices()]
    if request.param not in names:
        pytest.skip(f"{request.param} is not present here (devices: {', '.join(names)})")
    return request.param


@pytest.fixture
def rma(device):
    """rm_abstract initialized on `device`, shut down afterwards."""
    import rm_abstract

    rm_abstract.init(device=device)
    yield rm_abstract
    rm_abstract.shutdown()


# ---------------------------------------------------------------- tiny models

CORPUS = [
    "Hello, world! The quick brown fox jumps over the lazy dog.",
    "rm_abstract runs unchanged transformers code on another device.",
    "Once upon a time there was a tiny model with random weights.",
    "1 2 3 4 5 6 7 8 9 10 and some more words to learn merges from.",
] * 4


def make_tokenizer(folder: str):
    """A byte-level BPE tokenizer trained here, saved as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>",
                                   eos_token="</s>", padding_side="left")
    fast.save_pretrained(folder)
    return fast


def make_model(kind: str, folder: str, vocab_size: int, seed: int = 0):
    """A tiny random-weight causal LM of `kind` (llama, qwen2, mistral), saved to `folder`."""
    import torch
    import transformers

    common = dict(vocab_size=vocab_size, hidden_size=64, intermediate_size=128,
                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                  max_position_embeddings=512, rms_norm_eps=1e-5, bos_token_id=1,
                  eos_token_id=2, pad_token_id=0, tie_word_embeddings=False,
                  initializer_range=0.2)
    if kind == "llama":
        config = transformers.LlamaConfig(**common)
        cls = transformers.LlamaForCausalLM
    elif kind == "qwen2":
        config = transformers.Qwen2Config(**common)
        cls = transformers.Qwen2ForCausalLM
    elif kind == "mistral":
        config = transformers.MistralConfig(**common, sliding_window=None)
        cls = transformers.MistralForCausalLM
    else:
        raise ValueError(kind)
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = cls(config).eval()
        model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """{kind: folder} of tiny models sharing one tokenizer (saved in each folder)."""
    out = {}
    for kind in ("llama", "qwen2", "mistral"):
        folder = str(tmp_path_factory.mktemp(f"tiny-{kind}"))
        tok = make_tokenizer(folder)
        make_model(kind, folder, len(tok))
        out[kind] = folder
    return out
