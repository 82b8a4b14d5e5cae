"""all-MiniLM-L6-v2 through `rma compile` and `rma run` against onnxruntime.

The model is exported by export_minilm.py (once, into --model-dir). Then on
--device: `rma compile minilm.onnx` (dynamic batch and seq: no --batch-size)
to an .rmx, `rma run` the .rmx on two tokenized batches of different shapes
(two sentences padded to 16 tokens, three padded to 25: the attention_mask
has zeros), and the .onnx on the first one through the compile cache the
compile filled. Both outputs must agree with onnxruntime's within
|ours - ort| <= 1e-3 (f32; hidden states are O(1)). The run's placement must
show the BERT pattern fused: 36 linear (6 layers x Q, K, V, O, up, down),
the up projection with its GELU as the linear's epilogue, 13 layer_norm, no
GELU pieces (erf) left, the attention score scale folded into the q linear
(the padding mask keeps attention as matmul -> softmax -> matmul) and no CPU
fallback. Exit 77 (skipped) when a Python
package is missing or the device is not present.

  check_minilm.py --rma build/bin/rma --model-dir DIR --work DIR [--device cpu]
"""

import argparse
import collections
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_minilm import INPUT_NAMES, ensure_exported  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from rma_cli import Cli, describe  # noqa: E402

try:
    import numpy as np
    import onnxruntime as ort
except ImportError as e:
    print(f"skipped: {e} (scripts/install_python.sh installs onnxruntime)")
    sys.exit(77)

ATOL = 1e-3
LAYERS = 6


def check_fusion(placement):
    """Errors about the fused graph the run placed."""
    nodes = placement["nodes"]
    ops = collections.Counter(n["op"] for n in nodes)
    errors = []
    want = {"linear": 6 * LAYERS, "layer_norm": 2 * LAYERS + 1}
    for op, count in want.items():
        if ops[op] != count:
            errors.append(f"{ops[op]} {op} nodes, want {count} (ops: {dict(ops)})")
    gelu_linears = [n for n in nodes if n["op"] == "linear" and "intermediate" in n["node"]]
    if len(gelu_linears) != LAYERS:
        errors.append(f"{len(gelu_linears)} linear nodes named 'intermediate' (with GELU), "
                      f"want {LAYERS}")
    leftovers = [n["node"] for n in nodes
                 if n["op"] != "linear" and ("Erf" in n["node"] or "act_fn" in n["node"])]
    if leftovers:
        errors.append(f"GELU pieces not fused: {leftovers[:4]}")
    # The score scale goes into the q linear (passes_attention.cpp).
    scales = [n["node"] for n in nodes
              if n["op"] == "binary" and n["node"].endswith(("self/Mul", "self/Div"))]
    if scales:
        errors.append(f"attention score scales not folded: {scales[:4]}")
    fallbacks = [n["node"] for n in nodes if n.get("fallback")]
    if fallbacks:
        errors.append(f"CPU fallbacks: {fallbacks[:8]}")
    return errors


def run_and_compare(cli, model, feeds, refs, folder, device, expect_cache):
    os.makedirs(folder, exist_ok=True)
    cmd = ["run", model, "--device", device, "--output-dir", folder, "--json", "--report"]
    for name, array in feeds.items():
        path = os.path.join(folder, f"in_{name}.npy")
        np.save(path, array)
        cmd += ["--input", f"{name}={path}"]
    r = cli(*cmd)
    if r.returncode != 0:
        return [f"rma run {os.path.basename(model)}: {describe(r)}"]
    result = json.loads(r.stdout)
    errors = []
    for name, ref in refs.items():
        ours = np.load(os.path.join(folder, f"{name}.npy"))
        if ours.shape != ref.shape or ours.dtype != ref.dtype:
            errors.append(f"{name}: {ours.dtype}{list(ours.shape)}, onnxruntime gives "
                          f"{ref.dtype}{list(ref.shape)}")
            continue
        diff = float(np.abs(ours - ref).max())
        print(f"     {name}{list(ref.shape)}: max |ours - ort| = {diff:.2e}")
        if not diff <= ATOL:
            errors.append(f"{name}: max |ours - ort| = {diff:.3g} > {ATOL}")
    if expect_cache and result.get("cache") != expect_cache:
        errors.append(f"compile cache: {result.get('cache')}, want {expect_cache}")
    errors += check_fusion(result["placement"])
    return errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rma", required=True)
    parser.add_argument("--model-dir", required=True, help="where the export goes (reused)")
    parser.add_argument("--work", required=True)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    model = ensure_exported(args.model_dir)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    cli = Cli(args.rma, os.path.join(args.work, "cache"), timeout=600)
    probe = cli("run", os.path.join(args.work, "absent.rmx"), "--device", args.device)
    if "no device" in probe.stderr:
        print(f"skipped: {probe.stderr.strip()}")
        return 77

    results = []
    rmx = os.path.join(args.work, "minilm.rmx")
    r = cli("compile", model, "-o", rmx, "--target", args.device)
    if r.returncode != 0 or not os.path.exists(rmx):
        print(f"FAIL rma compile: {describe(r)}")
        return 1
    print(f"ok   {r.stdout.strip()}")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    for k, batch in enumerate(("pair", "three")):
        feeds = {n: np.load(os.path.join(args.model_dir, f"inputs_{batch}_{n}.npy"))
                 for n in INPUT_NAMES}
        refs = dict(zip(names, session.run(None, feeds)))
        shape = list(feeds["input_ids"].shape)
        runs = [("rmx", rmx, None)] + ([("onnx", model, "hit")] if k == 0 else [])
        for kind, path, cache in runs:
            label = f"{kind} {batch}{shape}"
            print(f"...  {label}")
            errors = run_and_compare(cli, path, feeds, refs,
                                     os.path.join(args.work, f"{kind}_{batch}"), args.device,
                                     cache)
            results.append((label, "; ".join(errors) if errors else None))
    failed = 0
    for label, error in results:
        if error:
            failed += 1
            print(f"FAIL {label}: {error}")
        else:
            print(f"ok   {label}")
    print(f"minilm on {args.device}: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
