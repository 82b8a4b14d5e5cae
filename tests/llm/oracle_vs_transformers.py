"""Engine correctness against Hugging Face transformers (an independent
implementation loading the same weights).

Suites:
  tiny     random-weight Llama, Qwen2 (QKV bias) and Mistral (sliding window)
           models made here with transformers + save_pretrained; each is read
           by our engine as the Hugging Face folder, as an f32 GGUF and as a
           q8_0 GGUF (both written by `rma quantize`); transformers reads the
           folder, and the q8_0 GGUF itself, as the oracle.
  smollm2  the default model (SmolLM2-135M-Instruct Q4_1 GGUF), read by
           transformers through its GGUF loader (dequantized to f32).

Per model, prompt and device: logits of every prompt position agree within
the tolerance stated below, the argmax agrees at every position, and the next
32 greedy tokens (eos ignored) are identical — hence identical text.
Exit 77 (skipped) when the default model is not in the cache.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

# Tolerances on |ours - oracle| / max|oracle logits| per prompt.
#   f32 weights: the same arithmetic up to summation order and f32 rounding.
#   quantized weights: the engine's default precision (accurate) computes as
#   if in f32 from the dequantized weights (docs/ops.md, quant_linear), so
#   only summation order and f32 rounding differ, through more layers of
#   larger weights; measured ~1e-6 to 4e-6.
TOL_F32 = 2e-5
TOL_QUANT = 1e-4


def run_probe(probe, model, device, ids, n_greedy, workdir):
    out = os.path.join(workdir, "logits.f32")
    cmd = [probe, model, device, ",".join(map(str, ids)), str(n_greedy), out]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stderr}")
    meta = json.loads(res.stdout.strip().splitlines()[-1])
    logits = np.fromfile(out, dtype=np.float32).reshape(meta["rows"], meta["vocab"])
    return logits, meta["greedy"]


def oracle(model, ids, n_greedy):
    import torch

    with torch.no_grad():
        x = torch.tensor([ids])
        logits = model(x).logits[0].float().numpy()
        seq = list(ids)
        past = None
        out = model(torch.tensor([seq]), use_cache=True)
        greedy = []
        for _ in range(n_greedy):
            nxt = int(out.logits[0, -1].argmax())
            greedy.append(nxt)
            out = model(torch.tensor([[nxt]]), past_key_values=out.past_key_values, use_cache=True)
    return logits, greedy


class Report:
    def __init__(self):
        self.failures = []
        self.rows = []

    def check(self, label, ours, ref, greedy_ours, greedy_ref, tol):
        scale = float(np.abs(ref).max())
        err = float(np.abs(ours - ref).max()) / scale
        argmax_ok = bool((ours.argmax(-1) == ref.argmax(-1)).all())
        greedy_ok = greedy_ours == greedy_ref
        ok = err <= tol and argmax_ok and greedy_ok
        self.rows.append((label, err, tol, argmax_ok, greedy_ok, ok))
        if not ok:
            first = next((i for i, (a, b) in enumerate(zip(greedy_ours, greedy_ref)) if a != b), None)
            self.failures.append(
                f"{label}: rel err {err:.2e} (tol {tol:.0e}), argmax {'ok' if argmax_ok else 'DIFFERS'}, "
                f"greedy {'ok' if greedy_ok else f'differs from token {first}: ours {greedy_ours[first:first+5]} vs {greedy_ref[first:first+5]}'}")

    def print(self):
        print(f"{'case':58} {'rel err':>9} {'tol':>7} argmax greedy")
        for label, err, tol, a, g, ok in self.rows:
            print(f"{label:58} {err:9.2e} {tol:7.0e} {'ok' if a else 'FAIL':>6} {'ok' if g else 'FAIL':>6}")
        print(f"{len(self.rows) - len(self.failures)}/{len(self.rows)} cases agree")


def tiny_models(workdir):
    """(name, folder) of three small random-weight models with a tokenizer."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
    from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM,
                              Qwen2Config, Qwen2ForCausalLM, PreTrainedTokenizerFast)

    corpus = ["The quick brown fox jumps over the lazy dog. " * 3,
              "Paged attention keeps the KV cache in blocks; 12345 tokens.",
              "Grüße aus Köln — 東京 and 🙂 emoji"] * 20
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=320, special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>",
                                   bos_token="<|endoftext|>")
    vocab = tok.get_vocab_size()

    common = dict(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                  rms_norm_eps=1e-5, rope_theta=10000.0, initializer_range=0.1,
                  bos_token_id=0, eos_token_id=0)
    specs = [
        ("llama", LlamaConfig(**common, tie_word_embeddings=False), LlamaForCausalLM),
        ("qwen2", Qwen2Config(**common, tie_word_embeddings=True), Qwen2ForCausalLM),
        ("mistral", MistralConfig(**common, sliding_window=8, tie_word_embeddings=False),
         MistralForCausalLM),
    ]
    out = []
    for name, config, cls in specs:
        torch.manual_seed(len(out) + 1)
        model = cls(config).eval()
        with torch.no_grad():  # norms and biases away from their trivial init
            for pname, p in model.named_parameters():
                if "norm" in pname:
                    p.uniform_(0.5, 1.5)
                elif pname.endswith(".bias"):
                    p.normal_(0.0, 0.1)
        folder = os.path.join(workdir, f"tiny-{name}")
        model.save_pretrained(folder, safe_serialization=True)
        fast.save_pretrained(folder)
        out.append((name, folder))
    return out, fast


def load_hf(path, gguf_file=None):
    import torch
    from transformers import AutoModelForCausalLM
    kw = dict(dtype=torch.float32, attn_implementation="eager")
    if gguf_file:
        kw["gguf_file"] = gguf_file
    return AutoModelForCausalLM.from_pretrained(path, **kw).eval()


HF_NAMES = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
            "output.weight": "lm_head.weight"}
HF_LAYER = {"attn_norm.weight": "input_layernorm.weight", "ffn_norm.weight": "post_attention_layernorm.weight",
            "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
            "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
            "ffn_down": "mlp.down_proj"}


def hf_with_gguf_weights(model, gguf_path):
    """A copy of `model` whose weights are those of `gguf_path` (read and
    dequantized by the gguf package, Q/K rows put back in Hugging Face order),
    so the oracle multiplies exactly the weights our engine holds."""
    import copy
    import torch
    from gguf import GGUFReader, quants

    cfg = model.config
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    state = {}
    for t in GGUFReader(gguf_path).tensors:
        w = quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        w = w.reshape([int(d) for d in reversed(t.shape)])
        name = t.name
        if name in HF_NAMES:
            name = HF_NAMES[name]
        else:
            _, layer, rest = name.split(".", 2)
            base, _, suffix = rest.partition(".")
            key = rest if rest in HF_LAYER else base
            name = f"model.layers.{layer}.{HF_LAYER[key]}" + ("" if rest in HF_LAYER else "." + suffix)
            if cfg.model_type in ("llama", "mistral") and base in ("attn_q", "attn_k") and suffix == "weight":
                heads = w.shape[0] // head_dim  # undo the GGUF (gptj) row order
                w = w.reshape(heads, head_dim // 2, 2, -1).swapaxes(1, 2).reshape(w.shape)
        state[name] = torch.from_numpy(np.ascontiguousarray(w))
    out = copy.deepcopy(model)
    missing, unexpected = out.load_state_dict(state, strict=False)
    missing = [m for m in missing if not (m == "lm_head.weight" and cfg.tie_word_embeddings)]
    if missing or unexpected:
        raise RuntimeError(f"{gguf_path}: missing {missing}, unexpected {unexpected}")
    if cfg.tie_word_embeddings:
        out.tie_weights()
    return out.eval()


def suite_tiny(args, report, workdir):
    models, fast = tiny_models(workdir)
    prompts = [fast.encode("The quick brown fox jumps over the lazy dog."),
               fast.encode("Grüße aus Köln — 東京 🙂 12345 tokens in paged blocks")]
    for name, folder in models:
        hf = load_hf(folder)
        ggufs = {}
        for qtype in ("f32", "q8_0"):
            path = os.path.join(workdir, f"tiny-{name}-{qtype}.gguf")
            subprocess.run([args.rma, "quantize", folder, path, "--type", qtype], check=True,
                           capture_output=True)
            ggufs[qtype] = path
        hf_q8 = hf_with_gguf_weights(hf, ggufs["q8_0"])
        for pi, ids in enumerate(prompts):
            ref = oracle(hf, ids, 32)
            ref_q8 = oracle(hf_q8, ids, 32)
            for device in args.devices:
                for label, model, (rl, rg), tol in (("hf-folder", folder, ref, TOL_F32),
                                                    ("gguf-f32", ggufs["f32"], ref, TOL_F32),
                                                    ("gguf-q8_0", ggufs["q8_0"], ref_q8, TOL_QUANT)):
                    logits, greedy = run_probe(args.probe, model, device, ids, 32, workdir)
                    report.check(f"tiny-{name} {label} prompt{pi} {device}", logits, rl, greedy,
                                 rg, tol)


def suite_smollm2(args, report, workdir):
    if not os.path.exists(args.model):
        print(f"skipped: {args.model} not present (scripts/fetch_model.sh smollm2-135m)")
        return 77
    from transformers import AutoTokenizer
    folder, name = os.path.split(args.model)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    hf = load_hf(folder, name)
    chat = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                   add_generation_prompt=True, tokenize=False)
    prompts = {"chat": tok.encode(chat, add_special_tokens=False),
               "text": tok.encode("The three primary colors are", add_special_tokens=False)}
    for pname, ids in prompts.items():
        rl, rg = oracle(hf, ids, 32)
        for device in args.devices:
            logits, greedy = run_probe(args.probe, args.model, device, ids, 32, workdir)
            report.check(f"smollm2-135m q4_1 {pname} {device}", logits, rl, greedy, rg, TOL_QUANT)
            if pname == "chat" and greedy == rg:
                print(f"{device} greedy reply: {tok.decode(greedy)!r}")
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", choices=["tiny", "smollm2"], required=True)
    ap.add_argument("--probe", required=True)
    ap.add_argument("--rma", required=True)
    ap.add_argument("--model", default=os.path.join(
        os.environ.get("RM_CACHE_DIR", os.path.expanduser("~/.cache/rm_abstract")), "models",
        "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--devices", default="cpu")
    args = ap.parse_args()
    args.devices = [d for d in args.devices.split(",") if d]
    report = Report()
    with tempfile.TemporaryDirectory() as workdir:
        rc = (suite_tiny if args.suite == "tiny" else suite_smollm2)(args, report, workdir)
    if rc == 77:
        return 77
    report.print()
    for f in report.failures:
        print("FAIL", f)
    return 1 if report.failures or not report.rows else 0


if __name__ == "__main__":
    sys.exit(main())
