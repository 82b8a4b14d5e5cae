#!/usr/bin/env python3
"""generate() tokens/s of SmolLM2-135M through rm_abstract's transformers
hooks beside plain transformers on the CPU, in the same run.

The model is loaded by transformers from the GGUF of the LLM issue (the model
cache's SmolLM2-135M-Instruct.Q4_1.gguf, dequantized to f32 by
transformers), or from a Hugging Face folder given with --model. Both paths
decode greedily with the end-of-sequence token switched off, so each makes
exactly --new-tokens tokens; the ids are compared too.

    .venv/bin/python bench/python_generate/bench_python_generate.py [--device cpu] [--json out.json]

Run from a build tree with PYTHONPATH=build/python, or with rm_abstract
installed by pip.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings


def model_cache() -> str:
    return os.path.join(os.environ.get("RM_CACHE_DIR") or os.path.expanduser("~/.cache/rm_abstract"),
                        "models")


def load(model: str, gguf: str | None):
    import transformers

    kwargs = {"gguf_file": gguf} if gguf else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = transformers.AutoModelForCausalLM.from_pretrained(model, **kwargs).eval()
        tok = transformers.AutoTokenizer.from_pretrained(model, **kwargs)
    m.generation_config.eos_token_id = None  # exactly --new-tokens tokens on both paths
    return m, tok


def timed_generate(model, inputs, new_tokens: int, runs: int):
    import torch

    best, out = float("inf"), None
    with torch.no_grad():
        model.generate(**inputs, max_new_tokens=4, do_sample=False)  # warm up (engine build)
        for _ in range(runs):
            start = time.perf_counter()
            out = model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False)
            best = min(best, time.perf_counter() - start)
    return best, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="Hugging Face folder (default: the cached SmolLM2 GGUF)")
    ap.add_argument("--device", default="cpu", help="rm_abstract device (default: cpu)")
    ap.add_argument("--prompt", default="The capital of France is")
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3, help="timed runs per path; the best is kept")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own)")
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args()

    import torch

    import rm_abstract

    if a.threads:
        torch.set_num_threads(a.threads)
    gguf = None
    model = a.model
    if model is None:
        gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
        model = model_cache()
        if not os.path.exists(os.path.join(model, gguf)):
            print(f"bench_python_generate: {gguf} is not in {model}; run scripts/fetch_model.sh smollm2-135m",
                  file=sys.stderr)
            return 1

    plain_model, tok = load(model, gguf)
    inputs = tok(a.prompt, return_tensors="pt")
    prompt_tokens = int(inputs["input_ids"].shape[1])
    plain_s, plain_out = timed_generate(plain_model, inputs, a.new_tokens, a.runs)
    del plain_model

    device = rm_abstract.init(device=a.device)
    hooked_model, _ = load(model, gguf)
    hooked_s, hooked_out = timed_generate(hooked_model, inputs, a.new_tokens, a.runs)
    rm_abstract.shutdown()

    rows = [
        {"path": "transformers", "device": "cpu (torch)", "seconds": plain_s,
         "tok_per_s": a.new_tokens / plain_s},
        {"path": "rm_abstract hooks", "device": device, "seconds": hooked_s,
         "tok_per_s": a.new_tokens / hooked_s},
    ]
    same = plain_out.tolist() == hooked_out.tolist()
    print(f"SmolLM2-135M generate: {prompt_tokens} prompt tokens, {a.new_tokens} new tokens, greedy, "
          f"best of {a.runs}; torch threads {torch.get_num_threads()}")
    print("| path | device | seconds | tok/s |")
    print("| --- | --- | ---: | ---: |")
    for r in rows:
        print(f"| {r['path']} | {r['device']} | {r['seconds']:.3f} | {r['tok_per_s']:.1f} |")
    print(f"speed-up {plain_s / hooked_s:.2f}x; generated ids identical: {same}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"prompt_tokens": prompt_tokens, "new_tokens": a.new_tokens, "rows": rows,
                       "identical_ids": same}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
