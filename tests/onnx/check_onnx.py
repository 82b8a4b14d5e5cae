"""ONNX import against onnxruntime.

For each case of make_models.py: save the model, run it in onnxruntime (the
reference) and through onnx_probe (our import + specialize + interpreter) on
the same inputs, and compare every output: floats within the case's
tolerance (|ours - ref| <= atol + rtol * |ref|), integers and bools exactly,
shapes exactly. Error cases must fail with a message holding the expected
substrings. Exit 77 (skipped) when onnx or onnxruntime is missing.

  check_onnx.py --probe build/bin/onnx_probe --work DIR [--device cpu] [--case NAME]
"""

import argparse
import os
import subprocess
import sys

try:
    import numpy as np
    import onnxruntime as ort
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import make_models
except ImportError as e:
    print(f"skipped: {e} (scripts/install_python.sh installs onnx and onnxruntime)")
    sys.exit(77)


def run_probe(probe, model, feeds, folder, device):
    os.makedirs(folder, exist_ok=True)
    cmd = [probe, model, "--out", folder, "--device", device]
    for name, array in feeds.items():
        path = os.path.join(folder, f"in_{name}.npy")
        np.save(path, array)
        cmd += ["--input", f"{name}={path}"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return result


def compare(name, ours, ref, rtol, atol):
    """An error message, or None when `ours` matches `ref`."""
    if ours.shape != ref.shape:
        return f"{name}: shape {ours.shape}, onnxruntime {ref.shape}"
    if ref.dtype.kind == "f":
        if ours.dtype.kind != "f":
            return f"{name}: dtype {ours.dtype}, onnxruntime {ref.dtype}"
        ours64, ref64 = ours.astype(np.float64), ref.astype(np.float64)
        err = np.abs(ours64 - ref64) - (atol + rtol * np.abs(ref64))
        if ref.size and not (np.isfinite(ours64) == np.isfinite(ref64)).all():
            return f"{name}: non-finite values differ"
        finite = np.isfinite(ref64)
        if ref.size and (err[finite] > 0).any():
            worst = np.unravel_index(np.argmax(np.where(finite, err, -np.inf)), ref.shape)
            return (f"{name}: max excess {err[worst]:.3g} at {worst}: ours {ours64[worst]!r}, "
                    f"onnxruntime {ref64[worst]!r} (rtol {rtol}, atol {atol})")
        return None
    if ref.dtype.kind != ours.dtype.kind:
        return f"{name}: dtype {ours.dtype}, onnxruntime {ref.dtype}"
    if not np.array_equal(ours, ref):
        bad = tuple(np.argwhere(ours != ref)[0])
        return f"{name}: differs at {bad}: ours {ours[bad]}, onnxruntime {ref[bad]}"
    return None


def check_case(case, args):
    """A list of (label, error or None)."""
    folder = os.path.join(args.work, case.name)
    model_path = case.save(folder)
    if case.expect_error:
        r = run_probe(args.probe, model_path, {"x": np.zeros((3, 3), np.float32)},
                      os.path.join(folder, "run0"), args.device)
        missing = [s for s in case.expect_error if s not in r.stderr]
        if r.returncode == 0:
            return [(case.name, "imported, but an error was expected")]
        if r.returncode != 1 or missing:
            return [(case.name,
                     f"exit {r.returncode}, message lacks {missing}: {r.stderr.strip()}")]
        return [(case.name, None)]
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    results = []
    for k, feeds in enumerate(case.feeds):
        label = f"{case.name}[{','.join(f'{n}{list(a.shape)}' for n, a in feeds.items())}]"
        refs = session.run(None, feeds)
        r = run_probe(args.probe, model_path, feeds, os.path.join(folder, f"run{k}"), args.device)
        if r.returncode != 0:
            results.append((label, f"onnx_probe failed: {r.stderr.strip()}"))
            continue
        errors = []
        for i, (name, ref) in enumerate(zip(names, refs)):
            ours = np.load(os.path.join(folder, f"run{k}", f"out{i}.npy"))
            err = compare(name, ours, np.asarray(ref), case.rtol, case.atol)
            if err:
                errors.append(err)
        results.append((label, "; ".join(errors) if errors else None))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probe", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--case", action="append", help="run only these cases")
    args = parser.parse_args()
    cases = [c for c in make_models.all_cases() if not args.case or c.name in args.case]
    passed = failed = 0
    for case in cases:
        for label, error in check_case(case, args):
            if error:
                failed += 1
                print(f"FAIL {label}: {error}")
            else:
                passed += 1
                print(f"ok   {label}")
    print(f"onnx: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
