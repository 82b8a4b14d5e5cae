"""SmolLM2-135M (the default model, loaded by transformers from the model
cache's GGUF) through the hooks: greedy ids identical to plain transformers.
Skipped when scripts/fetch_model.sh has not put the model in the cache."""

from __future__ import annotations

import os
import warnings

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("gguf")

import rm_abstract  # noqa: E402
from rm_abstract import hooks  # noqa: E402

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE = os.path.join(os.environ.get("RM_CACHE_DIR") or os.path.expanduser("~/.cache/rm_abstract"),
                     "models")


def load():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = transformers.AutoModelForCausalLM.from_pretrained(CACHE, gguf_file=GGUF)
        tok = transformers.AutoTokenizer.from_pretrained(CACHE, gguf_file=GGUF)
    return model, tok


@pytest.mark.skipif(not os.path.exists(os.path.join(CACHE, GGUF)),
                    reason=f"{GGUF} is not in {CACHE} (scripts/fetch_model.sh smollm2-135m)")
def test_smollm2_greedy_matches_transformers():
    model, tok = load()  # loaded once (the GGUF is dequantized: slow); hooked after init
    inputs = tok("The capital of France is", return_tensors="pt")
    want = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    with torch.no_grad():
        want_logits = model(**inputs).logits
    rm_abstract.init(device="cpu")
    try:
        hooks.attach(model)  # what from_pretrained does after init (tested on the tiny models)
        assert hooks.is_hooked(model) and isinstance(model, transformers.LlamaForCausalLM)
        got = model.generate(**inputs, max_new_tokens=12, do_sample=False)
        with torch.no_grad():
            got_logits = model(**inputs).logits
    finally:
        rm_abstract.shutdown()
    assert got.tolist() == want.tolist()
    assert torch.allclose(got_logits, want_logits, atol=2e-3, rtol=0)
