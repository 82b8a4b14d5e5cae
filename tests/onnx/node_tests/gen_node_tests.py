#!/usr/bin/env python3
"""Writes the ONNX backend node tests into a folder, the layout of the onnx
repository's onnx/backend/test/data/node:

    OUT/<test>/model.onnx
    OUT/<test>/test_data_set_<N>/input_<J>.pb, output_<J>.pb   (TensorProtos)

The `onnx` wheel ships the test generators, not the data, so the cases come
from onnx.backend.test.case.node.collect_testcases(). Only tensor inputs and
outputs are written; a test with a sequence, map or optional value gets no
data sets and a file `unsupported.txt` naming why, which onnx_node_runner
reports as unsupported.

Exit 77 (CTest's skip) when the `onnx` package is missing.
"""

import argparse
import os
import shutil
import sys
import warnings


def value_kind(type_proto):
    """'tensor', or what the value is instead (sequence, map, optional...)."""
    which = type_proto.WhichOneof("value")
    return {"tensor_type": "tensor", "sequence_type": "sequence", "map_type": "map",
            "optional_type": "optional", "sparse_tensor_type": "sparse tensor"}.get(
                which, str(which))


def write_tensor(path, value, name, numpy_helper, TensorProto):
    proto = value if isinstance(value, TensorProto) else numpy_helper.from_array(value, name)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())


def write_case(case, folder, numpy_helper, TensorProto):
    os.makedirs(folder)
    graph = case.model.graph
    with open(os.path.join(folder, "model.onnx"), "wb") as f:
        f.write(case.model.SerializeToString())
    for kind, values in (("input", graph.input), ("output", graph.output)):
        for value in values:
            what = value_kind(value.type)
            if what != "tensor":
                with open(os.path.join(folder, "unsupported.txt"), "w") as f:
                    f.write(f"{what} {kind} '{value.name}'\n")
                return
    for i, (inputs, outputs) in enumerate(case.data_sets):
        data_dir = os.path.join(folder, f"test_data_set_{i}")
        os.makedirs(data_dir)
        for j, value in enumerate(inputs):
            write_tensor(os.path.join(data_dir, f"input_{j}.pb"), value, graph.input[j].name,
                         numpy_helper, TensorProto)
        for j, value in enumerate(outputs):
            write_tensor(os.path.join(data_dir, f"output_{j}.pb"), value, graph.output[j].name,
                         numpy_helper, TensorProto)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder to (re)create")
    parser.add_argument("--filter", default="", help="only tests whose name contains this")
    args = parser.parse_args()
    try:
        import onnx  # noqa: F401
        from onnx import TensorProto, numpy_helper
        from onnx.backend.test.case import node
    except ImportError as e:
        print(f"skipped: the onnx package is missing ({e})")
        return 77

    with warnings.catch_warnings():  # the generators divide by zero on purpose
        warnings.simplefilter("ignore")
        cases = node.collect_testcases(None)
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)
    written = 0
    for case in cases:
        if args.filter not in case.name:
            continue
        write_case(case, os.path.join(args.out, case.name), numpy_helper, TensorProto)
        written += 1
    print(f"{written} node tests written to {args.out} (onnx {onnx.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
