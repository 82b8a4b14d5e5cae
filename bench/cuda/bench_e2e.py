"""bench/cuda: SmolLM2-135M end to end on a GPU, our engine beside
PyTorch/transformers eager on the same GPU, in one run; and a correctness
check of a tiny model against transformers on that GPU.

Speed. The real SmolLM2-135M file does not travel to the lent GPU machine,
and speed does not depend on the weights' values, so the model is built here
from SmolLM2-135M's hyper-parameters (below) with seeded random weights and
saved with save_pretrained in bf16, with a synthetic byte-level BPE tokenizer
of the same vocabulary size (the engine wants one; the benchmark feeds random
ids). `rma quantize` makes a q8_0 GGUF of it. For each of bf16 and q8_0 and
each batch size, `rma bench llm --pp 512 --tg 128` (its own process; CUDA
graphs for decode) gives prefill and decode tok/s. transformers runs the bf16
model in PyTorch eager mode (no torch.compile, its default attention): a
forward of the prompt (the logits of the last position only, as generate
does) gives prefill tok/s; model.generate (greedy, exactly tg new tokens)
minus that prefill gives decode tok/s over the tg - 1 decode-only steps, the
tokens `rma bench llm` counts. Both see the same prompt ids. transformers has
no q8_0, so q8_0 is put beside transformers bf16. Target: batch-1 decode at
least 3x transformers.

Correctness. A tiny random Llama (2 layers, hidden 64, its own trained BPE
tokenizer) saved with save_pretrained: greedy 16 tokens (eos ignored) from
`rma generate --device DEV` and from transformers on the GPU (f32, eager
attention, TF32 off) must give the same text, and, through llm_probe
(--probe), the same ids (else the first difference is reported).

  python3 bench/cuda/bench_e2e.py --rma build/bin/rma --probe build/bin/llm_probe \
      --json e2e.jsonl

Prints one line and exits 0 when there is no CUDA GPU for torch or none in
`rma info`. Exit 1 when a run fails or the outputs differ.
"""
import argparse
import inspect
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

# SmolLM2-135M (HuggingFaceTB/SmolLM2-135M config.json).
SMOLLM2_135M = dict(hidden_size=576, num_hidden_layers=30, num_attention_heads=9,
                    num_key_value_heads=3, intermediate_size=1536, vocab_size=49152,
                    rope_theta=100000.0, tie_word_embeddings=True, rms_norm_eps=1e-5,
                    max_position_embeddings=8192, hidden_act="silu", bos_token_id=0,
                    eos_token_id=0, initializer_range=0.02)
TINY_LLAMA = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, intermediate_size=128, max_position_embeddings=256,
                  rms_norm_eps=1e-5, rope_theta=10000.0, initializer_range=0.1,
                  tie_word_embeddings=False, bos_token_id=0, eos_token_id=0)
EOS = "<|endoftext|>"


def log(*a):
    print(*a, flush=True)


def run(cmd, timeout):
    """Runs cmd; returns stdout. Raises RuntimeError with its stderr on failure."""
    try:
        res = subprocess.run(cmd, capture_output=True, encoding="utf-8", errors="replace",
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{' '.join(cmd)}: no answer within {timeout} s")
    except OSError as e:  # e.g. the program is missing
        raise RuntimeError(f"{cmd[0]}: {e}")
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {res.returncode}:\n{res.stderr[-3000:]}")
    return res.stdout


def random_prompt(n, vocab):
    # The xorshift generator `rma bench llm` draws its prompt from
    # (bench/llm_bench.cpp), so transformers is fed the same ids.
    s, out, mask = 0x2545F4914F6CDD1D, [], (1 << 64) - 1
    for _ in range(n):
        s ^= (s << 13) & mask
        s ^= s >> 7
        s ^= (s << 17) & mask
        out.append(s % vocab)
    return out


def skip_reason(args):
    """Why this machine cannot run the benchmark, or None."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError as e:
        return f"{e.name} is not installed for {sys.executable}"
    import torch
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        return "torch.cuda.is_available() is False (no CUDA GPU for PyTorch)"
    info = run([args.rma, "info"], 120)  # a failure here is an error, not a skip
    if not any(line.split() and line.split()[0].rstrip(":") == args.device
               for line in info.splitlines()):
        return f"`rma info` lists no device {args.device}"
    return None


def torch_device(args):
    return "cuda:" + args.device.split(":")[1] if args.device.startswith("cuda") else "cpu"


def sync(dev):
    import torch
    if dev.startswith("cuda"):
        torch.cuda.synchronize(dev)


# ------------------------------------------------------------------ models

def synthetic_tokenizer(vocab_size):
    """A byte-level BPE with exactly vocab_size tokens: eos, the 256 byte
    symbols, then merges of symbol pairs (every token reachable)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab, merges = {EOS: 0}, []
    for ch in alphabet:
        vocab[ch] = len(vocab)
    for a in alphabet:
        for b in alphabet:
            if len(vocab) >= vocab_size:
                break
            vocab[a + b] = len(vocab)
            merges.append((a, b))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([EOS])
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS)


def trained_tokenizer():
    """A small byte-level BPE trained on a few sentences (the tiny model's)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    corpus = ["The quick brown fox jumps over the lazy dog. " * 3,
              "Paged attention keeps the KV cache in blocks; 12345 tokens.",
              "Graphs replay a decode step with one launch on the GPU."] * 20
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=320, special_tokens=[EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS)


def build_model(config_kwargs, seed, folder, dtype, tokenizer, attention=None):
    """A LlamaForCausalLM with seeded random weights (norm weights away from
    their trivial 1.0), saved with save_pretrained in `dtype`; returns it.
    `attention`: transformers' attention implementation (None: its default)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(seed)
    config = LlamaConfig(**config_kwargs)
    if attention:
        config._attn_implementation = attention
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    model = model.to(dtype)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return model


# ------------------------------------------------------------------ correctness

def check_tiny(args, workdir, report):
    """Greedy 16 tokens of a tiny random Llama: rma on args.device vs
    transformers on the GPU. Returns True when they agree."""
    import torch
    dev = torch_device(args)
    tok = trained_tokenizer()
    folder = os.path.join(workdir, "tiny-llama")
    model = build_model(dict(TINY_LLAMA, vocab_size=len(tok)), 1, folder, torch.float32, tok,
                        attention="eager")
    text = "The quick brown fox jumps over the lazy dog."
    n = 16
    prompt = [int(i) for i in run([args.rma, "tokenize", "-m", folder, "-p", text, "--ids-only"],
                                  120).split()]

    # transformers: greedy, eos ignored, f32 without TF32, eager attention.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model = model.to(dev)
    ref = []
    with torch.inference_mode():
        out = model(torch.tensor([prompt], device=dev), use_cache=True)
        for _ in range(n):
            nxt = int(out.logits[0, -1].argmax())
            ref.append(nxt)
            out = model(torch.tensor([[nxt]], device=dev), past_key_values=out.past_key_values,
                        use_cache=True)
    ref_text = run([args.rma, "tokenize", "-m", folder, "--decode", "--no-special", "-p",
                    " ".join(map(str, ref))], 120)
    ref_text = ref_text[:-1] if ref_text.endswith("\n") else ref_text

    ok = True
    ours_text = run([args.rma, "generate", "-m", folder, "--device", args.device, "-p", text,
                     "-n", str(n), "--ignore-eos"], 300)
    ours_text = ours_text[:-1] if ours_text.endswith("\n") else ours_text
    same_text = ours_text == ref_text
    ok = ok and same_text
    log(f"tiny Llama (2 layers, hidden 64), prompt {len(prompt)} tokens, greedy {n} on "
        f"{args.device} vs transformers on {dev}:")
    log(f"  rma generate text {'identical' if same_text else 'DIFFERS'}: ours {ours_text!r}"
        + ("" if same_text else f" vs transformers {ref_text!r}"))
    ids_note = "llm_probe not given"
    same_ids = None
    if args.probe:
        with tempfile.TemporaryDirectory(dir=workdir) as d:
            res = run([args.probe, folder, args.device, ",".join(map(str, prompt)), str(n),
                       os.path.join(d, "logits.f32")], 300)
        ours = json.loads(res.strip().splitlines()[-1])["greedy"]
        same_ids = ours == ref
        ok = ok and same_ids
        if same_ids:
            ids_note = f"ids identical: {ours}"
        else:
            first = next(i for i, (a, b) in enumerate(zip(ours + [None] * n, ref)) if a != b)
            ids_note = (f"ids DIFFER from token {first}: ours {ours[first:first + 6]} vs "
                        f"transformers {ref[first:first + 6]}")
        log(f"  llm_probe {ids_note}")
    report.add({"case": f"tiny-llama greedy{n} {args.device} vs transformers {dev}",
                "metric": "identical", "value": 1 if ok else 0,
                "identical_text": same_text, "identical_ids": same_ids,
                "ours_ids_note": ids_note, "transformers_ids": ref})
    return ok


# ------------------------------------------------------------------ speed

def ours_bench(args, model_path, label, batch):
    """`rma bench llm`: {pp, tg, ops_per_step, graph_steps, commit, line}."""
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as f:
        path = f.name
    try:
        out = run([args.rma, "bench", "llm", "-m", model_path, "--device", args.device,
                   "--pp", str(args.pp), "--tg", str(args.tg), "--batch", str(batch),
                   "--repeat", str(args.repeat), "--label", label, "--json", path],
                  args.run_timeout)
        rows = [json.loads(line) for line in open(path) if line.strip()]
    finally:
        os.unlink(path)
    get = lambda prefix: next(r for r in rows if r["case"].split()[-2].startswith(prefix))
    tg = get("tg")
    return {"pp": get("pp")["value"], "tg": tg["value"], "tg_spread": tg.get("spread"),
            "ops_per_step": tg.get("ops_per_decode_step"),
            "graph_steps": tg.get("graph_decode_steps"), "commit": tg.get("commit", "unknown"),
            "line": out.strip().splitlines()[-1] if out.strip() else ""}


def forward_kwargs(model):
    """Keep only the last position's logits in a prompt forward, as generate
    does (the argument's name changed across transformers versions)."""
    params = inspect.signature(model.forward).parameters
    for name in ("logits_to_keep", "num_logits_to_keep"):
        if name in params:
            return {name: 1}
    return {}


def transformers_bench(args, model, batch, dev):
    """PyTorch eager: {pp, tg} tok/s, medians of args.repeat runs after a warm-up."""
    import torch
    vocab = model.config.vocab_size
    ids = torch.tensor([random_prompt(args.pp, vocab)] * batch, device=dev)
    mask = torch.ones_like(ids)
    fkw = forward_kwargs(model)
    gen_kw = dict(attention_mask=mask, max_new_tokens=args.tg, min_new_tokens=args.tg,
                  do_sample=False, pad_token_id=0)
    pp_s, gen_s = [], []
    with torch.inference_mode():
        for r in range(args.repeat + 1):  # the first run warms up
            sync(dev)
            t0 = time.perf_counter()
            model(ids, attention_mask=mask, use_cache=True, **fkw)
            sync(dev)
            t1 = time.perf_counter()
            out = model.generate(ids, **gen_kw)
            sync(dev)
            t2 = time.perf_counter()
            if out.shape[1] != args.pp + args.tg:
                raise RuntimeError(f"transformers generated {out.shape[1] - args.pp} tokens, "
                                   f"not {args.tg}")
            if r:
                pp_s.append(t1 - t0)
                gen_s.append(t2 - t1)
    pp = statistics.median(pp_s)
    gen = statistics.median(gen_s)
    return {"pp": batch * args.pp / pp, "tg": batch * (args.tg - 1) / max(gen - pp, 1e-9)}


class Report:
    def __init__(self, args):
        self.args = args
        self.machine = "unknown"
        self.commit = "unknown"
        self.lines = []

    def add(self, row):
        """Appends the row to the JSON file at once (a run cut short keeps it)."""
        self.lines.append(row)
        if self.args.json:
            with open(self.args.json, "a") as f:
                f.write(json.dumps({"bench": "e2e", **row, "device": self.args.device,
                                    "machine": self.machine, "commit": self.commit}) + "\n")


def bench_speed(args, workdir, report):
    """Returns False when a run failed (the others still run)."""
    import torch
    dev = torch_device(args)
    folder = os.path.join(workdir, "smollm2-135m-random-bf16")
    log("building SmolLM2-135M (random weights, bf16) ...")
    model = build_model(SMOLLM2_135M, 0, folder, torch.bfloat16,
                        synthetic_tokenizer(SMOLLM2_135M["vocab_size"]))
    q8 = os.path.join(workdir, "smollm2-135m-random-q8_0.gguf")
    run([args.rma, "quantize", folder, q8, "--type", "q8_0"], 300)
    batches = [int(b) for b in args.batches.split(",")]
    ok = True

    log(f"transformers {__import__('transformers').__version__} / torch {torch.__version__} "
        f"eager on {dev} ...")
    model = model.to(dev).eval()
    attn = getattr(model.config, "_attn_implementation", None) or "default"
    peer = f"transformers eager bf16 ({attn} attention)"
    theirs = {}
    for b in batches:
        try:
            theirs[b] = transformers_bench(args, model, b, dev)
            log(f"  batch {b}: pp{args.pp} {theirs[b]['pp']:.1f} tok/s, "
                f"tg{args.tg} {theirs[b]['tg']:.1f} tok/s")
        except (RuntimeError, torch.cuda.OutOfMemoryError) as e:
            log(f"  transformers batch {b} failed: {e}")
            ok = False
    del model
    if dev.startswith("cuda"):
        torch.cuda.empty_cache()

    table = []
    met = None
    for vname, path in (("bf16", folder), ("q8_0", q8)):
        for b in batches:
            log(f"rma bench llm {vname} batch {b} ...")
            try:
                o = ours_bench(args, path, f"smollm2-135m-random {vname}", b)
            except RuntimeError as e:
                log(f"  failed: {e}")
                ok = False
                continue
            log("  " + o["line"])
            report.commit = o["commit"]
            for kind, n in (("pp", args.pp), ("tg", args.tg)):
                case = f"smollm2-135m-random {vname} {kind}{n} b{b}"
                row = {"case": case, "metric": "tok_per_s", "value": round(o[kind], 3),
                       "batch": b, "weights": vname}
                peer_value = theirs.get(b, {}).get(kind)
                if peer_value:
                    row.update(peer=peer, peer_value=round(peer_value, 3),
                               ratio=round(o[kind] / peer_value, 4))
                if kind == "tg":
                    row.update(ops_per_decode_step=o["ops_per_step"],
                               graph_decode_steps=o["graph_steps"], spread=o["tg_spread"])
                    if b == 1 and peer_value:
                        row["target_ratio"] = 3.0
                        met = (met is not False) and o[kind] / peer_value >= 3.0
                steps = (f"{o['ops_per_step']} ops in one graph launch"
                         if kind == "tg" and o["graph_steps"] else "")
                table.append((case, o[kind], peer_value, steps))
                report.add(row)

    log(f"\n{'case':40} {'ours tok/s':>11} {'transformers':>13} {'ratio':>7}  decode step")
    for case, value, peer_value, steps in table:
        theirs_s = (f"{peer_value:13.1f} {value / peer_value:7.2f}" if peer_value
                    else f"{'-':>13} {'-':>7}")
        log(f"{case:40} {value:11.1f} {theirs_s}  {steps}")
    log("(q8_0 is put beside transformers bf16: transformers has no q8_0)")
    log("batch-1 decode >= 3x transformers eager: "
        + ("not measured" if met is None else "met" if met else "NOT met"))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rma", required=True, help="the rma command line")
    ap.add_argument("--probe", help="llm_probe (tests/llm), to compare token ids")
    ap.add_argument("--device", default="cuda:0", help="rma device (transformers runs on the "
                    "same GPU, or the CPU for 'cpu')")
    ap.add_argument("--json", help="append one JSON object per case")
    ap.add_argument("--pp", type=int, default=512)
    ap.add_argument("--tg", type=int, default=128)
    ap.add_argument("--batches", default="1,32")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--run-timeout", type=int, default=150, help="seconds per rma bench run")
    ap.add_argument("--skip-speed", action="store_true", help="only the correctness check")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no bars in the logs

    try:
        why = skip_reason(args)
    except RuntimeError as e:
        print(f"bench_e2e: error: {e}")
        return 1
    if why:
        print(f"bench_e2e: skipped: {why}")
        return 0
    import torch
    dev = torch_device(args)
    report = Report(args)
    gpu = torch.cuda.get_device_name(dev) if dev.startswith("cuda") else "cpu"
    host = platform.processor() or platform.machine()
    report.machine = f"{gpu}; host {host}, {os.cpu_count()} cores"
    try:  # replaced by the commit rma was built from once `rma bench llm` has run
        report.commit = subprocess.run(
            ["git", "-C", os.path.dirname(os.path.abspath(__file__)), "describe", "--always",
             "--dirty"], capture_output=True, text=True, timeout=30).stdout.strip() or "unknown"
    except OSError:
        pass
    log(f"bench_e2e on {args.device} ({report.machine})")
    ok = True
    with tempfile.TemporaryDirectory(prefix="rma-e2e-") as workdir:
        try:
            ok = check_tiny(args, workdir, report) and ok
        except RuntimeError as e:
            log(f"correctness check failed to run: {e}")
            ok = False
        if not args.skip_speed:
            try:
                ok = bench_speed(args, workdir, report) and ok
            except RuntimeError as e:
                log(f"speed benchmark failed: {e}")
                ok = False
    if args.json:
        log(f"appended {len(report.lines)} lines to {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
