"""bench/llm: SmolLM2-135M prefill (pp) and decode (tg) tokens/s on this
machine, our engine beside llama.cpp (llama-cpp-python) on the same GGUF
files, in one run.

Every variant (f32, f16, q8_0, q4_0, q4_1) is made from one source GGUF with
`rma quantize`. Each (variant, threads) case runs ours (`rma bench llm`, its
own process) and the peer (this script with --peer, its own process) one
after the other, `--rounds` times alternating, and reports medians, ratios
(ours / peer), decode as a fraction of the memory-bandwidth roofline (weight
bytes per token / measured DRAM read bandwidth) and peak RSS of each process.

  .venv/bin/python bench/llm/bench_llm.py --rma build/bin/rma --json llm.jsonl
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def random_prompt(n, vocab):
    # The generator `rma bench llm` uses, so both see the same tokens.
    s, out, mask = 0x2545F4914F6CDD1D, [], (1 << 64) - 1
    for _ in range(n):
        s ^= (s << 13) & mask
        s ^= s >> 7
        s ^= (s << 17) & mask
        out.append(s % vocab)
    return out


def peer(model, threads, pp, tg, repeat):
    """llama.cpp through llama-cpp-python: prints one JSON line."""
    import llama_cpp

    llm = llama_cpp.Llama(model_path=model, n_threads=threads, n_threads_batch=threads,
                          n_ctx=pp + tg + 8, n_batch=pp, n_ubatch=pp, verbose=False)
    prompt = random_prompt(pp, llm.n_vocab())
    pp_rates, tg_rates = [], []
    for r in range(repeat + 1):  # first run warms up
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt)
        t1 = time.perf_counter()
        tok = llm.sample(temp=0.0)
        t2 = time.perf_counter()
        for _ in range(tg - 1):
            llm.eval([tok])
            tok = llm.sample(temp=0.0)
        t3 = time.perf_counter()
        if r:
            pp_rates.append(pp / (t1 - t0))
            tg_rates.append((tg - 1) / (t3 - t2))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"pp": statistics.median(pp_rates), "tg": statistics.median(tg_rates),
                      "rss": rss, "version": llama_cpp.__version__}))


def ours(rma, model, threads, pp, tg, repeat):
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as f:
        subprocess.run([rma, "bench", "llm", "-m", model, "--device", "cpu", "-t", str(threads),
                        "--pp", str(pp), "--tg", str(tg), "--repeat", str(repeat),
                        "--json", f.name], check=True, capture_output=True, text=True)
        rows = [json.loads(line) for line in open(f.name)]
    get = lambda prefix: next(r for r in rows if r["case"].split()[-2].startswith(prefix))
    tgrow = get("tg")
    return {"pp": get("pp")["value"], "tg": tgrow["value"], "rss": get("peak_rss")["value"],
            "roofline": tgrow["roofline_fraction"], "machine": tgrow["machine"],
            "commit": tgrow["commit"]}


def make_variants(rma, source, types, folder):
    os.makedirs(folder, exist_ok=True)
    out = {}
    for t in types:
        path = os.path.join(folder, f"smollm2-135m-{t}.gguf")
        if not os.path.exists(path):
            print(f"making {path}", flush=True)
            subprocess.run([rma, "quantize", source, path, "--type", t], check=True,
                           capture_output=True)
        out[t] = path
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    cache = os.environ.get("RM_CACHE_DIR", os.path.expanduser("~/.cache/rm_abstract"))
    ap.add_argument("--rma", default="build/bin/rma")
    ap.add_argument("--source", default=os.path.join(cache, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--variants", default="f32,f16,q8_0,q4_0,q4_1")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--pp", type=int, default=512)
    ap.add_argument("--tg", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per process")
    ap.add_argument("--rounds", type=int, default=1, help="alternating ours/peer rounds")
    ap.add_argument("--workdir", default=os.path.join(cache, "bench-models"))
    ap.add_argument("--json", help="append one JSON object per case (a line each)")
    ap.add_argument("--peer", nargs=5, metavar=("MODEL", "THREADS", "PP", "TG", "REPEAT"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer:
        m, t, pp, tg, rep = args.peer
        return peer(m, int(t), int(pp), int(tg), int(rep))

    files = make_variants(args.rma, args.source, args.variants.split(","), args.workdir)
    results = []
    for variant, path in files.items():
        for threads in map(int, args.threads.split(",")):
            o_runs, p_runs = [], []
            for _ in range(args.rounds):
                o_runs.append(ours(args.rma, path, threads, args.pp, args.tg, args.repeat))
                res = subprocess.run([sys.executable, __file__, "--peer", path, str(threads),
                                      str(args.pp), str(args.tg), str(args.repeat)],
                                     check=True, capture_output=True, text=True)
                p_runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
            med = lambda runs, k: statistics.median(r[k] for r in runs)
            row = dict(variant=variant, threads=threads,
                       pp=med(o_runs, "pp"), pp_peer=med(p_runs, "pp"),
                       tg=med(o_runs, "tg"), tg_peer=med(p_runs, "tg"),
                       roofline=med(o_runs, "roofline"), rss=med(o_runs, "rss"),
                       rss_peer=med(p_runs, "rss"), machine=o_runs[0]["machine"],
                       commit=o_runs[0]["commit"], peer_version=p_runs[0]["version"])
            results.append(row)
            print(f"{variant:5} t{threads}: pp{args.pp} {row['pp']:8.1f} vs {row['pp_peer']:8.1f} "
                  f"({row['pp'] / row['pp_peer']:.2f}x)  tg{args.tg} {row['tg']:7.1f} vs "
                  f"{row['tg_peer']:7.1f} ({row['tg'] / row['tg_peer']:.2f}x)", flush=True)

    print(f"\nmachine: {results[0]['machine']}\ncommit: {results[0]['commit']}\n"
          f"peer: llama.cpp via llama-cpp-python {results[0]['peer_version']} (same GGUF files)\n")
    print(f"| variant | threads | pp{args.pp} ours | pp llama.cpp | ratio | tg{args.tg} ours | "
          f"tg llama.cpp | ratio | decode/roofline | RSS ours | RSS peer |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['variant']} | {r['threads']} | {r['pp']:.1f} | {r['pp_peer']:.1f} | "
              f"{r['pp'] / r['pp_peer']:.2f} | {r['tg']:.1f} | {r['tg_peer']:.1f} | "
              f"{r['tg'] / r['tg_peer']:.2f} | {100 * r['roofline']:.0f}% | "
              f"{r['rss'] / 2**20:.0f} MiB | {r['rss_peer'] / 2**20:.0f} MiB |")
    if args.json:
        with open(args.json, "a") as f:
            for r in results:
                for kind, key in (("pp", args.pp), ("tg", args.tg)):
                    f.write(json.dumps({
                        "bench": "llm", "case": f"smollm2-135m {r['variant']} {kind}{key} t{r['threads']}",
                        "metric": "tok_per_s", "value": r[kind], "peer": "llama.cpp",
                        "peer_value": r[kind + "_peer"], "ratio": r[kind] / r[kind + "_peer"],
                        "machine": r["machine"], "commit": r["commit"]}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
