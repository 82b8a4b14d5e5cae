"""The transformers hooks on tiny random-weight Llama, Qwen2 and Mistral
models: greedy generate ids identical to plain transformers (batched and
left-padded too), forward logits within 1e-3, seeded sampling reproducible,
the README example unchanged, fallback with a warning, shutdown restoring
transformers exactly."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import rm_abstract  # noqa: E402
from rm_abstract import hooks  # noqa: E402

KINDS = ("llama", "qwen2", "mistral")
LOGITS_TOL = 1e-3  # |engine - transformers| on logits of order 1-10 (f32 both)


def plain(folder):
    """The model and tokenizer loaded without hooks."""
    assert not rm_abstract.is_initialized()
    model = transformers.AutoModelForCausalLM.from_pretrained(folder)
    tok = transformers.AutoTokenizer.from_pretrained(folder, padding_side="left")
    assert not hooks.is_hooked(model)
    return model, tok


def hooked(folder):
    model = transformers.AutoModelForCausalLM.from_pretrained(folder)
    tok = transformers.AutoTokenizer.from_pretrained(folder, padding_side="left")
    assert hooks.is_hooked(model)
    return model, tok


PROMPTS = ["Hello, world!", "Once upon a time there was", "1 2 3"]


@pytest.mark.parametrize("kind", KINDS)
def test_greedy_ids_match_transformers(kind, tiny_models, device):
    folder = tiny_models[kind]
    model, tok = plain(folder)
    single = tok(PROMPTS[0], return_tensors="pt")
    batch = tok(PROMPTS, return_tensors="pt", padding=True)
    assert int((batch["attention_mask"] == 0).sum()) > 0  # really left-padded
    want_single = model.generate(**single, max_new_tokens=16, do_sample=False)
    want_batch = model.generate(**batch, max_new_tokens=12, do_sample=False)

    rm_abstract.init(device=device)
    try:
        model, tok = hooked(folder)
        got_single = model.generate(**single, max_new_tokens=16, do_sample=False)
        got_batch = model.generate(**batch, max_new_tokens=12, do_sample=False)
    finally:
        rm_abstract.shutdown()
    assert got_single.tolist() == want_single.tolist()
    assert got_batch.tolist() == want_batch.tolist()


@pytest.mark.parametrize("kind", KINDS)
def test_forward_logits_within_tolerance(kind, tiny_models, device):
    folder = tiny_models[kind]
    model, tok = plain(folder)
    batch = tok(PROMPTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        want = model(**batch).logits
    rm_abstract.init(device=device)
    try:
        model, _ = hooked(folder)
        with torch.no_grad():
            out = model(**batch)
            got = out.logits
            same = model.forward(**batch).logits
    finally:
        rm_abstract.shutdown()
    assert got.shape == want.shape and got.dtype == want.dtype
    mask = batch["attention_mask"].bool()
    assert torch.allclose(got[mask], want[mask], atol=LOGITS_TOL, rtol=0)
    assert torch.equal(got, same)


def test_eos_and_padding_like_transformers(tiny_models, device):
    folder = tiny_models["llama"]
    model, tok = plain(folder)
    batch = tok(PROMPTS, return_tensors="pt", padding=True)
    # Make a token that greedy decoding produces the eos: rows stop at different steps.
    first = model.generate(**batch, max_new_tokens=6, do_sample=False)
    eos = int(first[1, batch["input_ids"].shape[1] + 2])
    want = model.generate(**batch, max_new_tokens=10, eos_token_id=eos, pad_token_id=0)
    rm_abstract.init(device=device)
    try:
        model, _ = hooked(folder)
        got = model.generate(**batch, max_new_tokens=10, eos_token_id=eos, pad_token_id=0)
    finally:
        rm_abstract.shutdown()
    assert got.tolist() == want.tolist()


def test_seeded_sampling_is_reproducible(tiny_models, device):
    folder = tiny_models["qwen2"]
    rm_abstract.init(device=device)
    try:
        model, tok = hooked(folder)
        inputs = tok(PROMPTS, return_tensors="pt", padding=True)
        args = dict(max_new_tokens=10, do_sample=True, temperature=0.8, top_k=40, top_p=0.9,
                    repetition_penalty=1.2)
        torch.manual_seed(123)
        a = model.generate(**inputs, **args)
        torch.manual_seed(123)
        b = model.generate(**inputs, **args)
        torch.manual_seed(124)
        c = model.generate(**inputs, **args)
    finally:
        rm_abstract.shutdown()
    assert a.tolist() == b.tolist()
    assert a.shape[0] == 3 and a.tolist() != c.tolist()


def test_streamer_sees_prompt_then_each_token(tiny_models, device):
    folder = tiny_models["mistral"]

    class Collect:
        def __init__(self):
            self.puts, self.ended = [], False

        def put(self, value):
            self.puts.append(value.tolist())

        def end(self):
            self.ended = True

    rm_abstract.init(device=device)
    try:
        model, tok = hooked(folder)
        inputs = tok(PROMPTS[0], return_tensors="pt")
        streamer = Collect()
        out = model.generate(**inputs, max_new_tokens=5, streamer=streamer)
    finally:
        rm_abstract.shutdown()
    assert streamer.ended and streamer.puts[0] == inputs["input_ids"].tolist()
    assert [p[0] for p in streamer.puts[1:]] == out[0, inputs["input_ids"].shape[1]:].tolist()


def test_readme_example_runs_unchanged(tiny_models, device, capsys):
    path = tiny_models["llama"]
    rm_abstract.init(device=device)
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(path)
        tok = AutoTokenizer.from_pretrained(path)
        out = model.generate(**tok("Hello, world!", return_tensors="pt"), max_new_tokens=32)
        print(tok.decode(out[0]))
        assert isinstance(model, transformers.LlamaForCausalLM)
        assert model.config.model_type == "llama" and hooks.is_hooked(model)
    finally:
        rm_abstract.shutdown()
    assert capsys.readouterr().out.startswith("Hello, world!")


def test_shutdown_restores_transformers_exactly(tiny_models):
    from transformers.modeling_utils import PreTrainedModel

    before = PreTrainedModel.__dict__["from_pretrained"]
    rm_abstract.init(device="cpu")
    model, _ = hooked(tiny_models["llama"])
    assert PreTrainedModel.__dict__["from_pretrained"] is not before
    assert "generate" in model.__dict__ and "forward" in model.__dict__
    rm_abstract.shutdown()
    assert PreTrainedModel.__dict__["from_pretrained"] is before
    assert "generate" not in model.__dict__ and "forward" not in model.__dict__
    assert not hooks.is_hooked(model)
    assert transformers.AutoModelForCausalLM.from_pretrained(tiny_models["llama"]).__dict__.get("generate") is None


def test_hooks_change_nothing_before_init(tiny_models):
    from transformers.modeling_utils import PreTrainedModel

    before = PreTrainedModel.__dict__["from_pretrained"]
    model, _ = plain(tiny_models["qwen2"])
    assert PreTrainedModel.__dict__["from_pretrained"] is before
    assert "generate" not in model.__dict__


def test_unsupported_architecture_falls_back_with_a_warning(tmp_path):
    config = transformers.GPT2Config(vocab_size=64, n_embd=32, n_layer=1, n_head=2, n_positions=64)
    folder = str(tmp_path / "gpt2")
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    rm_abstract.init(device="cpu")
    try:
        with pytest.warns(RuntimeWarning, match="architecture 'gpt2' is not run by rm_abstract"):
            model = transformers.AutoModelForCausalLM.from_pretrained(folder)
        assert not hooks.is_hooked(model)
        ids = torch.tensor([[1, 2, 3]])
        assert model.generate(ids, max_new_tokens=3, do_sample=False).shape == (1, 6)
    finally:
        rm_abstract.shutdown()
    rm_abstract.init(device="cpu", fallback="error")
    try:
        with pytest.raises(rm_abstract.FallbackError, match="gpt2"):
            transformers.AutoModelForCausalLM.from_pretrained(folder)
    finally:
        rm_abstract.shutdown()


def test_unsupported_argument_falls_back_once(tiny_models):
    folder = tiny_models["llama"]
    model, tok = plain(folder)
    inputs = tok(PROMPTS[0], return_tensors="pt")
    want = model.generate(**inputs, max_new_tokens=4, num_beams=2, do_sample=False)
    rm_abstract.init(device="cpu")
    try:
        model, _ = hooked(folder)
        with pytest.warns(RuntimeWarning, match="num_beams"):
            got = model.generate(**inputs, max_new_tokens=4, num_beams=2, do_sample=False)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the same reason does not warn twice
            model.generate(**inputs, max_new_tokens=4, num_beams=2, do_sample=False)
    finally:
        rm_abstract.shutdown()
    assert got.tolist() == want.tolist()


def test_model_too_large_for_the_device_falls_back(tiny_models, monkeypatch):
    folder = tiny_models["llama"]
    model, tok = plain(folder)
    inputs = tok(PROMPTS[0], return_tensors="pt")
    want = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    real_info = hooks._rma.device_info

    def tiny_device(name):
        info = dict(real_info(name))
        info["capabilities"] = [c for c in info["capabilities"] if c != "host_memory"]
        info["memory_free"] = 1000
        return info

    monkeypatch.setattr(hooks._rma, "device_info", tiny_device)
    rm_abstract.init(device="cpu")
    try:
        model, _ = hooked(folder)
        with pytest.warns(RuntimeWarning, match=r"needs about \d+ bytes on cpu, which has 1000 free"):
            got = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    finally:
        rm_abstract.shutdown()
    assert got.tolist() == want.tolist()


def test_switch_device_rebuilds_the_engine(tiny_models, device):
    folder = tiny_models["qwen2"]
    rm_abstract.init(device="cpu")
    try:
        model, tok = hooked(folder)
        inputs = tok(PROMPTS[1], return_tensors="pt")
        on_cpu = model.generate(**inputs, max_new_tokens=8, do_sample=False)
        rm_abstract.switch_device(device)
        moved = model.generate(**inputs, max_new_tokens=8, do_sample=False)
        assert hooks._hooked[model]._engine.device == device
    finally:
        rm_abstract.shutdown()
    assert moved.tolist() == on_cpu.tolist()
