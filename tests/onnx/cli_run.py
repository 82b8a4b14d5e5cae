"""`rma compile` and `rma run` against onnxruntime.

For each case of make_models.py: `rma compile` the model to an .rmx, then for
each set of inputs (written with np.save) `rma run` the .rmx and the .onnx
(the second served by the compile cache the compile filled), read the .npy
outputs back with np.load and compare them with onnxruntime's (the rules of
check_onnx.py). `--report` must list every node the JSON report places.
Error cases must fail at compile with the importer's message. Then the
command-line rules: a static-batch compile served from the cache to `rma run`
with the same flags, a run with another batch, a missing input, a bad
--input and other mistakes. The compile cache lives in a fresh folder under
--work (RM_CACHE_DIR). Exit 77 (skipped) when onnx or onnxruntime is missing,
or the device is not present.

  cli_run.py --rma build/bin/rma --work DIR [--device cpu] [--case NAME]
"""

import argparse
import json
import os
import shutil
import sys

try:
    import numpy as np
    import onnxruntime as ort
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import make_models
    from check_onnx import compare
except ImportError as e:
    print(f"skipped: {e} (scripts/install_python.sh installs onnx and onnxruntime)")
    sys.exit(77)
from rma_cli import Cli, describe  # noqa: E402


def run_and_compare(cli, model, feeds, refs, names, folder, args, case, expect_hit):
    """Runs `model` on `feeds`; a list of error strings."""
    os.makedirs(folder, exist_ok=True)
    base = ["run", model, "--device", args.device]
    for name, array in feeds.items():
        path = os.path.join(folder, f"in_{name}.npy")
        np.save(path, array)
        base += ["--input", f"{name}={path}"]
    r = cli(*base, "--output-dir", folder, "--report", "-v")
    if r.returncode != 0:
        return [f"rma run {os.path.basename(model)}: {describe(r)}"]
    errors = []
    for name, ref in zip(names, refs):
        ours = np.load(os.path.join(folder, f"{name}.npy"))
        err = compare(name, ours, np.asarray(ref), case.rtol, case.atol)
        if err:
            errors.append(err)
    if expect_hit is not None:
        want = "compile cache: hit" if expect_hit else "compile cache: not used"
        if want not in r.stdout:
            errors.append(f"no '{want}' in the output: {r.stdout.strip()}")
    # The text report names every node the JSON report places.
    j = cli(*base, "--json", "--report")
    if j.returncode != 0:
        return errors + [f"rma run --json: {describe(j)}"]
    placed = [n["node"] for n in json.loads(j.stdout)["placement"]["nodes"]]
    if not placed:
        errors.append("the report places no node")
    missing = [n for n in placed if n not in r.stdout]
    if missing:
        errors.append(f"--report lacks nodes {missing}: {r.stdout.strip()}")
    if f"placement: {len(placed)} nodes" not in r.stdout:
        errors.append(f"--report does not count {len(placed)} nodes: {r.stdout.strip()}")
    return errors


def check_case(cli, case, args):
    """A list of (label, error or None)."""
    folder = os.path.join(args.work, case.name)
    model = case.save(folder)
    rmx = os.path.join(folder, "compiled.rmx")
    r = cli("compile", model, "-o", rmx, "--target", args.device)
    if case.expect_error:
        missing = [s for s in case.expect_error if s not in r.stderr]
        if r.returncode != 1 or missing:
            return [(case.name, f"compile: exit {r.returncode}, message lacks {missing}: "
                                f"{r.stderr.strip()}")]
        return [(case.name, None)]
    if r.returncode != 0 or not os.path.exists(rmx):
        return [(case.name, f"rma compile: {describe(r)}")]
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    results = []
    for k, feeds in enumerate(case.feeds):
        label = f"{case.name}[{','.join(f'{n}{list(a.shape)}' for n, a in feeds.items())}]"
        refs = session.run(None, feeds)
        errors = run_and_compare(cli, rmx, feeds, refs, names, os.path.join(folder, f"rmx{k}"),
                                 args, case, expect_hit=False)
        errors += run_and_compare(cli, model, feeds, refs, names,
                                  os.path.join(folder, f"onnx{k}"), args, case, expect_hit=True)
        results.append((label, "; ".join(f"{e}" for e in errors) if errors else None))
    return results


def check_cli_rules(cli, args):
    """Command-line rules and mistakes: (label, error or None) each."""
    case = make_models.mlp()
    folder = os.path.join(args.work, "cli_rules")
    model = case.save(folder)
    rmx = os.path.join(folder, "batch3.rmx")
    x5 = os.path.join(folder, "x5.npy")
    np.save(x5, np.zeros((5, 16), np.float32))
    x3 = os.path.join(folder, "x3.npy")
    np.save(x3, np.ones((3, 16), np.float32))
    x_f64 = os.path.join(folder, "x_f64.npy")
    np.save(x_f64, np.zeros((3, 16)))
    expectations = [
        ("static batch", ["compile", model, "-o", rmx, "--target", args.device,
                          "--batch-size", "3", "-O3", "-v"], 0, "placement: "),
        ("static batch from the cache", ["run", model, "--device", args.device,
                                         "--batch-size", "3", "-O3", "--input", f"x={x3}", "-v"],
         0, "compile cache: hit"),
        ("compile flags with an .rmx", ["run", rmx, "--input", f"x={x3}", "-O1"], 2,
         "compiled already"),
        ("other batch", ["run", rmx, "--input", f"x={x5}"], 1,
         "input 'x' dim 0 is 5, but the model wants 3"),
        ("missing input", ["run", model, "--device", args.device], 1,
         "missing input 'x' (the model's inputs: x f32[batch, 16])"),
        ("unknown input", ["run", model, "--device", args.device, "--input", f"y={x5}"], 1,
         "unknown input 'y'"),
        ("bad --input", ["run", model, "--input", x5], 2, "--input wants NAME=FILE.npy"),
        ("f64 input", ["run", model, "--input", f"x={x_f64}"], 1, "dtype '<f8' is not supported"),
        ("not onnx", ["compile", rmx], 2, "already compiled"),
        ("bad -O", ["compile", model, "-O7"], 2, "-O"),
        ("bad --dim", ["compile", model, "--dim", "batch"], 2, "--dim wants NAME=N"),
        ("unknown dim", ["compile", model, "--dim", "seq=4"], 1, "no dimension named 'seq'"),
    ]
    results = []
    for label, cmd, code, text in expectations:
        r = cli(*cmd)
        output = r.stdout + r.stderr
        ok = r.returncode == code and text in output
        results.append((f"cli: {label}",
                        None if ok else f"want exit {code} and '{text}', got {describe(r)}"))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rma", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--case", action="append", help="run only these cases")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    cli = Cli(args.rma, os.path.join(args.work, "cache"))
    probe = cli("run", os.path.join(args.work, "absent.rmx"), "--device", args.device)
    if "no device" in probe.stderr:
        print(f"skipped: {probe.stderr.strip()}")
        return 77
    cases = [c for c in make_models.all_cases() if not args.case or c.name in args.case]
    results = []
    for case in cases:
        results += check_case(cli, case, args)
    if not args.case:
        results += check_cli_rules(cli, args)
    failed = 0
    for label, error in results:
        if error:
            failed += 1
            print(f"FAIL {label}: {error}")
        else:
            print(f"ok   {label}")
    print(f"rma compile/run: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
