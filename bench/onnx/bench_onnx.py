"""all-MiniLM-L6-v2 on the CPU through rma graph mode, beside onnxruntime.

Cases (each round runs every case; the table shows the best round's median
and the spread of the medians over rounds, because the machine is shared):
  - latency at batch 1 / seq 128 and throughput at batch 32 / seq 128, ours
    (rma_bench_onnx: rma::Session in-process, compiled for that shape, with
    RM_NUM_THREADS threads) beside onnxruntime's CPU provider with the same
    intra-op thread count, for each --threads value; ratio = our speed /
    onnxruntime's (its time / ours);
  - session creation: a cold compile (an empty RM_CACHE_DIR) against a
    warm open (a compile-cache hit) and loading the .rmx; ratio = cold / warm.
Prints a table, and with --json FILE appends one JSON object per case
(../shared/design/CONVENTIONS.md). The model is exported once by
tests/onnx/minilm/export_minilm.py into --model-dir.

  .venv/bin/python bench/onnx/bench_onnx.py --bench build/bin/rma_bench_onnx \\
      --model-dir build/bench-onnx [--threads 1,2] [--rounds 3] [--json onnx.jsonl]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "onnx", "minilm"))
from export_minilm import INPUT_NAMES, ensure_exported  # noqa: E402

try:
    import numpy as np
    import onnxruntime as ort
except ImportError as e:
    sys.exit(f"bench_onnx: {e} (scripts/install_python.sh installs the test packages)")

SEQ = 128
CASES = [("latency", 1), ("throughput", 32)]


def make_inputs(folder, batch):
    """Token ids of a full [batch, SEQ] window (no padding), as .npy files."""
    rng = np.random.default_rng(batch)
    feeds = {"input_ids": rng.integers(1000, 30000, (batch, SEQ), dtype=np.int64),
             "attention_mask": np.ones((batch, SEQ), np.int64),
             "token_type_ids": np.zeros((batch, SEQ), np.int64)}
    feeds["input_ids"][:, 0] = 101  # [CLS]
    feeds["input_ids"][:, -1] = 102  # [SEP]
    paths = {}
    for name, array in feeds.items():
        paths[name] = os.path.join(folder, f"b{batch}_{name}.npy")
        np.save(paths[name], array)
    return feeds, paths


def ours(args, env, mode, model, *extra):
    cmd = [args.bench, mode, model, "--device", "cpu", *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if r.returncode != 0:
        sys.exit(f"bench_onnx: {' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def ort_median_ms(model, feeds, threads, warmup, iters):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    for _ in range(warmup):
        session.run(None, feeds)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        session.run(None, feeds)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def best_and_spread(medians):
    return min(medians), (max(medians) - min(medians)) / min(medians)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", required=True, help="the rma_bench_onnx program")
    ap.add_argument("--model-dir", required=True, help="where the ONNX export goes (reused)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10, help="timed runs per case and round")
    ap.add_argument("--json", help="append one JSON object per case (a line each)")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    model = ensure_exported(args.model_dir)
    work = tempfile.mkdtemp(prefix="bench_onnx_")
    base_env = dict(os.environ, RM_CACHE_ENABLED="1", RM_LOG_LEVEL="warn")
    for var in ("RM_CACHE_STORE_URL", "RM_CACHE_LIFETIME", "RM_DEVICE"):
        base_env.pop(var, None)
    peer = f"onnxruntime {ort.__version__}"
    results = []
    try:
        inputs = {batch: make_inputs(work, batch) for _, batch in CASES}
        run_env = dict(base_env, RM_CACHE_DIR=os.path.join(work, "cache"))
        samples = {}  # (kind, batch, threads) -> ([our medians], [ort medians])
        opens = {"cold": [], "warm": [], "rmx": []}
        meta = {}
        for round_ in range(args.rounds):
            for kind, batch in CASES:
                feeds, paths = inputs[batch]
                flags = ["--batch-size", str(batch), "--dim", f"seq={SEQ}",
                         "--iters", str(args.iters), "--warmup", "3"]
                for name in INPUT_NAMES:
                    flags += ["--input", f"{name}={paths[name]}"]
                for t in threads:
                    o = ours(args, dict(run_env, RM_NUM_THREADS=str(t)), "run", model, *flags)
                    meta = o
                    p = ort_median_ms(model, feeds, t, 3, args.iters)
                    mine, theirs = samples.setdefault((kind, batch, t), ([], []))
                    mine.append(o["median_ms"])
                    theirs.append(p)
            # Session creation: cold (empty cache), warm (cache hit), the .rmx.
            cold_env = dict(base_env, RM_CACHE_DIR=os.path.join(work, f"cold{round_}"))
            shape = ["--batch-size", "1", "--dim", f"seq={SEQ}"]
            rmx = os.path.join(work, "minilm_b1.rmx")
            cold = ours(args, cold_env, "open", model, *shape, "--save-rmx", rmx)
            warm = ours(args, cold_env, "open", model, *shape, "--repeat", "5")
            loaded = ours(args, cold_env, "open", rmx, "--repeat", "5")
            if cold["cache_hit"] or not warm["cache_hit"]:
                sys.exit("bench_onnx: the cold open hit the cache or the warm one missed it")
            opens["cold"].append(cold["median_ms"])
            opens["warm"].append(warm["median_ms"])
            opens["rmx"].append(loaded["median_ms"])
            shutil.rmtree(cold_env["RM_CACHE_DIR"], ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"all-MiniLM-L6-v2 (ONNX opset 17), cpu, best of {args.rounds} rounds "
          f"(median of {args.iters} runs each; spread = (worst - best) / best over rounds)")
    print(f"machine: {meta['machine']}\ncommit: {meta['commit']}\npeer: {peer}\n")
    print(f"{'case':<34}{'rma':>12}{'onnxruntime':>14}{'ratio':>8}{'spread':>16}")
    for (kind, batch, t), (mine, theirs) in samples.items():
        (m, m_spread), (p, p_spread) = best_and_spread(mine), best_and_spread(theirs)
        label = f"minilm-l6 b{batch} s{SEQ} t{t} {kind}"
        if kind == "latency":
            cells = (f"{m:.2f} ms", f"{p:.2f} ms")
            metric, value, peer_value = "latency_ms", m, p
        else:
            cells = (f"{batch * 1e3 / m:.1f} seq/s", f"{batch * 1e3 / p:.1f} seq/s")
            metric, value, peer_value = "seq_per_s", batch * 1e3 / m, batch * 1e3 / p
        ratio = p / m  # our speed / onnxruntime's
        print(f"{label:<34}{cells[0]:>12}{cells[1]:>14}{ratio:>7.2f}x"
              f"{f'{m_spread:.0%} / {p_spread:.0%}':>16}")
        results.append({"bench": "onnx", "case": label, "metric": metric, "value": round(value, 3),
                        "peer": peer, "peer_value": round(peer_value, 3),
                        "ratio": round(ratio, 3)})
    cold, _ = best_and_spread(opens["cold"])
    print()
    for key, what in (("warm", "compile-cache hit"), ("rmx", ".rmx load")):
        warm, spread = best_and_spread(opens[key])
        label = f"minilm-l6 session open: {what} vs cold compile"
        print(f"{label:<48}{warm:>9.1f} ms vs {cold:.0f} ms  {cold / warm:>6.0f}x faster "
              f"(spread {spread:.0%})")
        results.append({"bench": "onnx", "case": label, "metric": "open_ms",
                        "value": round(warm, 3), "peer": "cold compile (empty RM_CACHE_DIR)",
                        "peer_value": round(cold, 3), "ratio": round(cold / warm, 2)})
    for r in results:
        r["machine"], r["commit"] = meta["machine"], meta["commit"]
    print("\n" + "\n".join(json.dumps(r) for r in results))
    if args.json:
        with open(args.json, "a") as f:
            for r in results:
                f.write(json.dumps(r) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
