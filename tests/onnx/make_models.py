"""Small ONNX models for the importer tests, built with onnx.helper.

Each case is a model, the inputs to run it with (several shapes where an
axis is dynamic) and the tolerance its float outputs must meet against
onnxruntime; error cases carry the substrings the importer's message must
contain instead. check_onnx.py runs them; `python make_models.py [--corpus] DIR` only
writes the models (--corpus: one file each, a fuzzing corpus).
"""

import dataclasses
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32 = TensorProto.FLOAT
I64 = TensorProto.INT64


@dataclasses.dataclass
class Case:
    name: str
    model: onnx.ModelProto
    feeds: list = dataclasses.field(default_factory=list)  # [{input name: array}]
    rtol: float = 1e-4
    atol: float = 1e-5
    expect_error: list = dataclasses.field(default_factory=list)  # substrings
    external_data: bool = False

    def save(self, folder):
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "model.onnx")
        if self.external_data:
            onnx.save_model(self.model, path, save_as_external_data=True,
                            all_tensors_to_one_file=True, location="weights.bin",
                            size_threshold=0)
        else:
            onnx.save_model(self.model, path)
        return path


def rng(seed):
    return np.random.default_rng(seed)


def make(nodes, inputs, outputs, initializers=(), opset=13, name="test", check=True, infer=False):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(initializers))
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(graph, opset_imports=opsets,
                              ir_version=helper.find_min_ir_version_for(opsets))
    if any(not o.HasField("type") for o in model.graph.output):
        # Outputs given by name only take the types ONNX's shape inference gives.
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        for mine, theirs in zip(model.graph.output, inferred.graph.output):
            if not mine.HasField("type"):
                mine.type.CopyFrom(theirs.type)
    if infer:  # fills value_info, which the importer checks against its own shapes
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    if check:
        onnx.checker.check_model(model)
    return model


def tensor_in(name, shape, elem=F32):
    return helper.make_tensor_value_info(name, elem, shape)


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def node(op, inputs, outputs, name=None, **attrs):
    return helper.make_node(op, inputs, outputs, name=name or outputs[0], **attrs)


# ------------------------------------------------------------------ models

def mlp(external=False):
    r = rng(1)
    nodes = [
        node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
        node("Relu", ["h"], ["h_relu"]),
        node("Gemm", ["h_relu", "w2", "c2"], ["y"], alpha=0.5, beta=2.0),
        node("LeakyRelu", ["y"], ["out"], alpha=0.1),
    ]
    inits = [init("w1", r.normal(0, 0.3, (32, 16)).astype(np.float32)),
             init("b1", r.normal(0, 0.1, (32,)).astype(np.float32)),
             init("w2", r.normal(0, 0.3, (32, 8)).astype(np.float32)),
             init("c2", r.normal(0, 0.1, (1, 8)).astype(np.float32))]
    # w1 is also listed as a graph input (as IR version 3 models do): a constant.
    inputs = [tensor_in("x", ["batch", 16]), tensor_in("w1", [32, 16])]
    model = make(nodes, inputs, [tensor_in("out", ["batch", 8])], inits)
    feeds = [{"x": r.normal(size=(b, 16)).astype(np.float32)} for b in (3, 5)]
    return Case("mlp_external" if external else "mlp_gemm", model, feeds, external_data=external)


def layer_norm():
    r = rng(2)
    nodes = [
        node("LayerNormalization", ["x", "g", "b"], ["ln"], axis=-1, epsilon=1e-5),
        # The same, spelled out as exporters without the fused op write it.
        node("ReduceMean", ["x"], ["mean"], axes=[-1]),
        node("Sub", ["x", "mean"], ["d"]),
        node("Pow", ["d", "two"], ["sq"]),
        node("ReduceMean", ["sq"], ["var"], axes=[-1]),
        node("Add", ["var", "eps"], ["ve"]),
        node("Sqrt", ["ve"], ["std"]),
        node("Div", ["d", "std"], ["n"]),
        node("Mul", ["n", "g"], ["ng"]),
        node("Add", ["ng", "b"], ["manual"]),
        # Over the two trailing axes.
        node("LayerNormalization", ["z", "g2"], ["ln2"], axis=1, epsilon=1e-3),
    ]
    inits = [init("g", r.normal(1, 0.1, (32,)).astype(np.float32)),
             init("b", r.normal(0, 0.1, (32,)).astype(np.float32)),
             init("g2", r.normal(1, 0.1, (4, 8)).astype(np.float32)),
             init("two", np.array(2.0, np.float32)), init("eps", np.array(1e-5, np.float32))]
    model = make(nodes, [tensor_in("x", [2, "seq", 32]), tensor_in("z", [3, 4, 8])],
                 [tensor_in("ln", [2, "seq", 32]), tensor_in("manual", [2, "seq", 32]),
                  tensor_in("ln2", [3, 4, 8])], inits, opset=17)
    feeds = [{"x": r.normal(size=(2, s, 32)).astype(np.float32),
              "z": r.normal(size=(3, 4, 8)).astype(np.float32)} for s in (5, 7)]
    return Case("layer_norm", model, feeds, atol=1e-4)


def encoder_block():
    """A BERT-style encoder layer: attention from MatMul/Softmax, head
    reshapes from a Shape/Gather/Concat subgraph, erf GELU, LayerNorms."""
    r = rng(3)
    d, heads, dh, ff = 32, 4, 8, 64
    w = lambda *s: r.normal(0, 0.2, s).astype(np.float32)
    inits = [init(n, w(d, d)) for n in ("wq", "wk", "wv", "wo")]
    inits += [init(n, w(d)) for n in ("bq", "bk", "bv", "bo")]
    inits += [init("w1", w(d, ff)), init("b1", w(ff)), init("w2", w(ff, d)), init("b2", w(d)),
              init("g1", 1 + w(d)), init("be1", w(d)), init("g2", 1 + w(d)), init("be2", w(d)),
              init("heads", np.array([heads], np.int64)), init("dh", np.array([dh], np.int64)),
              init("dmodel", np.array([d], np.int64)), init("zero", np.array(0, np.int64)),
              init("one_i", np.array(1, np.int64)),
              init("scale", np.array(np.sqrt(dh), np.float32)),
              init("one", np.array(1.0, np.float32)), init("neg", np.array(-10000.0, np.float32)),
              init("half", np.array(0.5, np.float32)),
              init("sqrt2", np.array(np.sqrt(2.0), np.float32))]
    n = []
    # [batch, seq, heads, dh] computed from x's shape.
    n += [node("Shape", ["x"], ["xs"]),
          node("Gather", ["xs", "zero"], ["b"], axis=0),
          node("Gather", ["xs", "one_i"], ["s"], axis=0),
          node("Unsqueeze", ["b", "ax0"], ["b1d"]),
          node("Unsqueeze", ["s", "ax0"], ["s1d"]),
          node("Concat", ["b1d", "s1d", "heads", "dh"], ["shape4"], axis=0),
          node("Concat", ["b1d", "s1d", "dmodel"], ["shape3"], axis=0)]
    inits.append(init("ax0", np.array([0], np.int64)))
    for p in ("q", "k", "v"):
        n += [node("MatMul", ["x", "w" + p], [p + "_mm"]),
              node("Add", [p + "_mm", "b" + p], [p + "_lin"]),
              node("Reshape", [p + "_lin", "shape4"], [p + "_4d"])]
    n += [node("Transpose", ["q_4d"], ["q_t"], perm=[0, 2, 1, 3]),
          node("Transpose", ["k_4d"], ["k_t"], perm=[0, 2, 3, 1]),
          node("Transpose", ["v_4d"], ["v_t"], perm=[0, 2, 1, 3]),
          node("MatMul", ["q_t", "k_t"], ["scores_raw"]),
          node("Div", ["scores_raw", "scale"], ["scores"]),
          # Additive mask from a 0/1 attention mask [batch, seq].
          node("Cast", ["mask"], ["mask_f"], to=F32),
          node("Sub", ["one", "mask_f"], ["mask_inv"]),
          node("Mul", ["mask_inv", "neg"], ["mask_add"]),
          node("Unsqueeze", ["mask_add", "ax12"], ["mask_4d"]),
          node("Add", ["scores", "mask_4d"], ["scores_m"]),
          node("Softmax", ["scores_m"], ["probs"], axis=-1),
          node("MatMul", ["probs", "v_t"], ["ctx_t"]),
          node("Transpose", ["ctx_t"], ["ctx_4d"], perm=[0, 2, 1, 3]),
          node("Reshape", ["ctx_4d", "shape3"], ["ctx"]),
          node("MatMul", ["ctx", "wo"], ["o_mm"]),
          node("Add", ["o_mm", "bo"], ["o"]),
          node("Add", ["o", "x"], ["res1"]),
          node("LayerNormalization", ["res1", "g1", "be1"], ["h1"], epsilon=1e-5),
          node("MatMul", ["h1", "w1"], ["f_mm"]),
          node("Add", ["f_mm", "b1"], ["f"]),
          node("Div", ["f", "sqrt2"], ["f_s"]),
          node("Erf", ["f_s"], ["f_erf"]),
          node("Add", ["f_erf", "one"], ["f_1"]),
          node("Mul", ["f", "f_1"], ["f_m"]),
          node("Mul", ["f_m", "half"], ["gelu"]),
          node("MatMul", ["gelu", "w2"], ["g_mm"]),
          node("Add", ["g_mm", "b2"], ["g"]),
          node("Add", ["g", "h1"], ["res2"]),
          node("LayerNormalization", ["res2", "g2", "be2"], ["out"], epsilon=1e-5)]
    inits.append(init("ax12", np.array([1, 2], np.int64)))
    model = make(n, [tensor_in("x", ["batch", "seq", d]), tensor_in("mask", ["batch", "seq"], I64)],
                 [tensor_in("out", ["batch", "seq", d])], inits, opset=17, infer=True)
    feeds = []
    for b, s in ((2, 5), (1, 9)):
        mask = np.ones((b, s), np.int64)
        mask[0, s - 2:] = 0
        feeds.append({"x": r.normal(size=(b, s, d)).astype(np.float32), "mask": mask})
    return Case("encoder_block", model, feeds, atol=1e-4)


def shape_ops():
    """Shape computations over a dynamic batch: reshape, slice, expand,
    tile, range and friends whose parameters are computed tensors."""
    r = rng(4)
    inits = [init("zero", np.array(0, np.int64)), init("two", np.array(2, np.int64)),
             init("three", np.array(3, np.int64)), init("minus1", np.array([-1], np.int64)),
             init("ax0", np.array([0], np.int64)), init("ax1", np.array([1], np.int64)),
             init("ax2", np.array([2], np.int64)), init("start2", np.array([2], np.int64)),
             init("rstart", np.array([-1], np.int64)),
             init("rend", np.array([np.iinfo(np.int64).min], np.int64)),
             init("rstep", np.array([-2], np.int64)),
             init("bias6", r.normal(size=(6,)).astype(np.float32)),
             init("shape116", np.array([1, 1, 6], np.int64)),
             init("reps", np.array([1, 2, 1], np.int64)),
             init("split22", np.array([1, 3], np.int64)), init("one_i", np.array(1, np.int64))]
    n = [
        node("Shape", ["x"], ["xs"]),
        node("Gather", ["xs", "zero"], ["batch"], axis=0),
        node("Unsqueeze", ["batch", "ax0"], ["batch1d"]),
        node("Concat", ["batch1d", "minus1"], ["flat_shape"], axis=0),
        node("Reshape", ["x", "flat_shape"], ["flat"]),                     # [batch, 24]
        node("Shape", ["flat"], ["fs"]),
        node("Gather", ["fs", "one_i"], ["width"], axis=0),
        node("Sub", ["width", "three"], ["end"]),
        node("Unsqueeze", ["end", "ax0"], ["end1d"]),
        node("Slice", ["flat", "start2", "end1d", "ax1"], ["sliced"]),       # [batch, 19]
        node("Slice", ["x", "rstart", "rend", "ax2", "rstep"], ["reversed"]),  # [batch, 4, 3]
        node("Reshape", ["bias6", "shape116"], ["bias3d"]),
        node("Expand", ["bias3d", "xs"], ["bias_full"]),
        node("Add", ["x", "bias_full"], ["expanded"]),
        node("ConstantOfShape", ["xs"], ["halves"],
             value=numpy_helper.from_array(np.array([0.5], np.float32))),
        node("Mul", ["x", "halves"], ["scaled"]),
        node("Gather", ["xs", "two"], ["last"], axis=0),
        node("Range", ["zero", "last", "one_i"], ["iota"]),
        node("Cast", ["iota"], ["iota_f"], to=F32),
        node("Add", ["x", "iota_f"], ["ramped"]),
        node("Tile", ["x", "reps"], ["tiled"]),
        node("Split", ["x", "split22"], ["part0", "part1"], axis=1),
        node("Greater", ["x", "zero_f"], ["positive"]),
        node("Neg", ["x"], ["negated"]),
        node("Where", ["positive", "x", "negated"], ["absolute"]),
        node("Flatten", ["x"], ["flat2"], axis=2),
        node("Unsqueeze", ["x", "ax1"], ["x_u"]),
        node("Squeeze", ["x_u", "ax1"], ["x_s"]),
        node("Transpose", ["x_s"], ["x_t"]),
        node("Size", ["x"], ["count"]),
    ]
    inits.append(init("zero_f", np.array(0.0, np.float32)))
    outs = ["reversed", "expanded", "scaled", "ramped", "tiled", "part0", "part1", "absolute",
            "flat2", "x_t", "xs", "count"]
    # ONNX's inference cannot follow the computed reshape; these two are declared.
    declared = [tensor_in("flat", ["batch", 24]), tensor_in("sliced", ["batch", 19])]
    model = make(n, [tensor_in("x", ["batch", 4, 6])],
                 declared + [helper.make_empty_tensor_value_info(o) for o in outs], inits,
                 infer=True)
    feeds = [{"x": r.normal(size=(b, 4, 6)).astype(np.float32)} for b in (2, 3)]
    return Case("shape_ops", model, feeds)


def elementwise():
    r = rng(5)
    x = r.uniform(-2, 2, (3, 5)).astype(np.float32)
    y = (r.uniform(0.5, 2, (3, 5)) * r.choice([-1, 1], (3, 5))).astype(np.float32)
    i = r.integers(-20, 20, (3, 5)).astype(np.int64)
    j = r.integers(1, 6, (3, 5)).astype(np.int64) * r.choice([-1, 1], (3, 5))
    z = r.normal(size=(2, 3, 4)).astype(np.float32)
    p, q = r.random((3, 5)) > 0.5, r.random((3, 5)) > 0.5
    n, outs = [], []

    def out(op, ins, name, **attrs):
        n.append(node(op, ins, [name], **attrs))
        outs.append(name)

    for op in ("Neg", "Abs", "Exp", "Sin", "Cos", "Erf", "Tanh", "Sigmoid", "Relu", "Floor",
               "Ceil", "Round", "Sign", "Identity"):
        out(op, ["x"], op.lower())
    out("LeakyRelu", ["x"], "leaky", alpha=0.2)
    out("HardSigmoid", ["x"], "hard_sigmoid", alpha=0.3, beta=0.4)
    n.append(node("Abs", ["y"], ["y_abs"]))
    for op in ("Log", "Sqrt", "Reciprocal"):
        out(op, ["y_abs"], op.lower())
    for op in ("Add", "Sub", "Mul", "Div"):
        out(op, ["x", "y"], op.lower())
    out("Pow", ["y_abs", "x"], "pow")
    n.append(node("Neg", ["x"], ["x_neg"]))
    out("Max", ["x", "y", "x_neg"], "max3")
    out("Min", ["x", "y"], "min2")
    out("Sum", ["x", "y", "y"], "sum3")
    out("Mean", ["x", "y"], "mean2")
    out("Mod", ["x", "y"], "fmod_f", fmod=1)
    out("Div", ["i", "j"], "div_i")
    out("Mod", ["i", "j"], "mod_i")
    out("Mod", ["i", "j"], "fmod_i", fmod=1)
    out("Abs", ["i"], "abs_i")
    out("Equal", ["i", "j"], "equal_i")
    for op in ("Less", "LessOrEqual", "Greater", "GreaterOrEqual"):
        out(op, ["x", "y"], op.lower())
    for op in ("And", "Or", "Xor"):
        out(op, ["p", "q"], op.lower())
    out("Not", ["p"], "not")
    out("Equal", ["p", "q"], "equal_b")
    out("Where", ["p", "x", "y"], "where")
    out("Clip", ["x", "lo", "hi"], "clip")
    out("Clip", ["i", "lo_i"], "clip_i")
    out("Cast", ["x"], "to_i32", to=TensorProto.INT32)
    out("CastLike", ["i", "y"], "cast_like")
    n.append(node("Cast", ["x"], ["x_d"], to=TensorProto.DOUBLE))
    n.append(node("Mul", ["x_d", "dscale"], ["x_d2"]))
    out("Cast", ["x_d2"], "via_double", to=F32)
    out("ReduceSum", ["x", "ax1"], "rsum", keepdims=0)
    out("ReduceMax", ["x"], "rmax", axes=[0])
    out("ReduceMin", ["x"], "rmin", axes=[-1], keepdims=0)
    out("ReduceProd", ["y"], "rprod", axes=[1])
    out("ReduceSumSquare", ["x"], "rsumsq", axes=[0, 1])
    out("ReduceMean", ["x"], "rmean_all")
    out("ArgMax", ["x"], "argmax", axis=1)
    out("ArgMin", ["x"], "argmin", axis=0, keepdims=0)
    out("Gather", ["x", "idx"], "gather", axis=1)
    out("Softmax", ["z"], "softmax_ax1", axis=1)
    out("LogSoftmax", ["z"], "log_softmax")
    out("MatMul", ["v5", "w54"], "mm_vec_mat")
    out("MatMul", ["x", "v5"], "mm_mat_vec")
    out("MatMul", ["z", "w46"], "mm_batched")
    out("Concat", ["x", "y"], "concat", axis=-1)
    n.append(node("Dropout", ["x"], ["dropout", "dropout_mask"]))
    outs += ["dropout", "dropout_mask"]
    out("Gemm", ["x", "w54"], "gemm_no_c")
    out("Gemm", ["x", "x", "c0"], "gemm_trans_a", transA=1, beta=0.5)
    out("Pow", ["y_abs", "two_i"], "pow_int_exponent")
    n.append(node("ReduceMin", ["y"], ["y_min"], keepdims=0))
    out("Clip", ["x", "y_min"], "clip_computed")
    out("Transpose", ["z"], "transpose", perm=[1, 0, 2])
    inits = [init("lo", np.array(-0.5, np.float32)), init("hi", np.array(0.7, np.float32)),
             init("lo_i", np.array(-3, np.int64)), init("ax1", np.array([1], np.int64)),
             init("dscale", np.array(1.5, np.float64)), init("c0", np.array(0.25, np.float32)),
             init("two_i", np.array(2, np.int64)),
             init("idx", np.array([[0, -1], [2, 1]], np.int64)),
             init("v5", r.normal(size=(5,)).astype(np.float32)),
             init("w54", r.normal(size=(5, 4)).astype(np.float32)),
             init("w46", r.normal(size=(4, 6)).astype(np.float32))]
    inputs = [tensor_in("x", [3, 5]), tensor_in("y", [3, 5]), tensor_in("i", [3, 5], I64),
              tensor_in("j", [3, 5], I64), tensor_in("z", [2, 3, 4]),
              tensor_in("p", [3, 5], TensorProto.BOOL), tensor_in("q", [3, 5], TensorProto.BOOL)]
    model = make(n, inputs, [helper.make_empty_tensor_value_info(o) for o in outs], inits,
                 opset=15)
    return Case("elementwise", model, [{"x": x, "y": y, "i": i, "j": j, "z": z, "p": p, "q": q}])


def opset_variant(opset):
    """Ops whose form changed across opsets, in the form `opset` uses."""
    r = rng(6)
    n, inits = [], []
    outs = ["softmax", "split0", "split1", "squeezed", "rsum", "rmean", "sliced", "clipped",
            "dropped"]

    def ints(name, v):
        inits.append(init(name, np.array(v, np.int64)))
        return name

    # Softmax over axis 1 of a 3-D input: 2-D coercion before 13, one axis after.
    n.append(node("Softmax", ["x"], ["softmax"], axis=1))
    if opset < 13:
        n.append(node("Split", ["x"], ["split0", "split1"], axis=1, split=[2, 4]))
        n.append(node("Unsqueeze", ["x"], ["x_u"], axes=[0]))
        n.append(node("Squeeze", ["x_u"], ["squeezed"], axes=[0]))
        n.append(node("ReduceSum", ["x"], ["rsum"], axes=[1], keepdims=0))
    else:
        if opset >= 18:
            n.append(node("Split", ["x"], ["split0", "split1"], axis=1, num_outputs=2))
            # 24 in 5 parts: 5, 5, 5, 5 and a smaller last one.
            n.append(node("Reshape", ["x", ints("flat24", [2, 24])], ["x24"]))
            parts = [f"part{k}" for k in range(5)]
            n.append(node("Split", ["x24"], parts, axis=1, num_outputs=5))
            outs.extend(parts)
        else:
            n.append(node("Split", ["x", ints("split", [2, 4])], ["split0", "split1"], axis=1))
        n.append(node("Unsqueeze", ["x", ints("ax0", [0])], ["x_u"]))
        n.append(node("Squeeze", ["x_u", "ax0"], ["squeezed"]))
        n.append(node("ReduceSum", ["x", ints("ax1", [1])], ["rsum"], keepdims=0))
    if opset < 18:
        n.append(node("ReduceMean", ["x"], ["rmean"], axes=[2, 0]))
    else:
        n.append(node("ReduceMean", ["x", ints("ax20", [2, 0])], ["rmean"]))
    if opset < 10:
        n.append(node("Slice", ["x"], ["sliced"], starts=[1, -3], ends=[100, -1], axes=[1, 2]))
    else:
        n.append(node("Slice", ["x", ints("st", [1, -1]), ints("en", [100, -4]),
                                ints("axs", [1, 2]), ints("steps", [2, -1])], ["sliced"]))
    if opset < 11:
        n.append(node("Clip", ["x"], ["clipped"], min=-0.3, max=0.4))
    else:
        inits += [init("lo", np.array(-0.3, np.float32)), init("hi", np.array(0.4, np.float32))]
        n.append(node("Clip", ["x", "lo", "hi"], ["clipped"]))
    n.append(node("Dropout", ["x"], ["dropped"]))
    if opset >= 17:
        inits.append(init("gamma", r.normal(1, 0.1, (4,)).astype(np.float32)))
        n.append(node("LayerNormalization", ["x", "gamma"], ["ln"]))
        outs.append("ln")
    if opset >= 20:
        n.append(node("Gelu", ["x"], ["gelu"]))
        n.append(node("Gelu", ["x"], ["gelu_tanh"], approximate="tanh"))
        outs += ["gelu", "gelu_tanh"]
    model = make(n, [tensor_in("x", [2, 6, 4])],
                 [helper.make_empty_tensor_value_info(o) for o in outs], inits, opset=opset)
    return Case(f"opset{opset}", model, [{"x": r.normal(size=(2, 6, 4)).astype(np.float32)}])


def typed_initializers():
    """Initializers in typed fields (not raw_data) and types the IR widens."""
    inits = [
        helper.make_tensor("w_f", F32, [4], [0.5, -1.0, 2.0, 0.25]),
        helper.make_tensor("w_d", TensorProto.DOUBLE, [4], [1.5, 2.5, -0.5, 3.0]),
        helper.make_tensor("w_u8", TensorProto.UINT8, [4], [0, 7, 200, 255]),
        helper.make_tensor("w_i32", TensorProto.INT32, [4], [-3, 1, 4, 1]),
        helper.make_tensor("w_i64", I64, [4], [10, -20, 30, -40]),
    ]
    n = [node("Cast", ["x"], ["x_d"], to=TensorProto.DOUBLE),
         node("Mul", ["x_d", "w_d"], ["xd_w"]),
         node("Cast", ["xd_w"], ["from_double"], to=F32),
         node("Cast", ["w_u8"], ["u8_f"], to=F32),
         node("Cast", ["w_i32"], ["i32_f"], to=F32),
         node("Cast", ["w_i64"], ["i64_f"], to=F32),
         node("Sum", ["x", "w_f", "u8_f", "i32_f", "i64_f"], ["total"])]
    model = make(n, [tensor_in("x", [4])],
                 [tensor_in("from_double", [4]), tensor_in("total", [4])], inits)
    return Case("typed_initializers", model,
                [{"x": np.array([1.0, -2.0, 3.0, 0.5], np.float32)}])


def unsupported_op():
    n = [node("Relu", ["x"], ["r"]), node("Det", ["r"], ["d"], name="the_det_node")]
    model = make(n, [tensor_in("x", [3, 3])], [tensor_in("d", [])])
    return Case("unsupported_op", model, expect_error=["Det", "opset 13", "the_det_node"])


def small_cnn():
    """A small CNN over [batch, 3, 32, 32]: conv 3x3 + BatchNormalization +
    relu, maxpool, depthwise conv, 1x1 conv, average pool, a strided SAME
    conv, global average pool, flatten and a Gemm classifier."""
    r = rng(20)

    def w(*shape, scale=0.3):
        return r.normal(0, scale, shape).astype(np.float32)

    n = [
        node("Conv", ["x", "c1_w", "c1_b"], ["c1"], pads=[1, 1, 1, 1]),
        node("BatchNormalization", ["c1", "bn_scale", "bn_b", "bn_mean", "bn_var"], ["bn"],
             epsilon=1e-5),
        node("Relu", ["bn"], ["r1"]),
        node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        node("Conv", ["p1", "dw_w", "dw_b"], ["dw"], group=16, pads=[1, 1, 1, 1]),
        node("Relu", ["dw"], ["r2"]),
        node("Conv", ["r2", "pw_w", "pw_b"], ["pw"]),
        node("Sigmoid", ["pw"], ["r3"]),
        node("AveragePool", ["r3"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
        node("Conv", ["p2", "c4_w"], ["c4"], strides=[2, 2], auto_pad="SAME_UPPER",
             kernel_shape=[3, 3]),
        node("LeakyRelu", ["c4"], ["r4"], alpha=0.1),
        node("GlobalAveragePool", ["r4"], ["gap"]),
        node("Flatten", ["gap"], ["flat"]),
        node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1),
    ]
    inits = [init("c1_w", w(16, 3, 3, 3)), init("c1_b", w(16, scale=0.1)),
             init("bn_scale", r.uniform(0.5, 1.5, 16).astype(np.float32)),
             init("bn_b", w(16, scale=0.1)), init("bn_mean", w(16, scale=0.2)),
             init("bn_var", r.uniform(0.5, 2.0, 16).astype(np.float32)),
             init("dw_w", w(16, 1, 3, 3)), init("dw_b", w(16, scale=0.1)),
             init("pw_w", w(32, 16, 1, 1)), init("pw_b", w(32, scale=0.1)),
             init("c4_w", w(32, 32, 3, 3, scale=0.1)),
             init("fc_w", w(10, 32)), init("fc_b", w(10, scale=0.1))]
    model = make(n, [tensor_in("x", ["batch", 3, 32, 32])], [tensor_in("logits", ["batch", 10])],
                 inits, opset=13)
    feeds = [{"x": r.normal(size=(b, 3, 32, 32)).astype(np.float32)} for b in (1, 3)]
    return Case("small_cnn", model, feeds, atol=1e-4)


def conv_pool_ops():
    """Conv and pool attributes one node each: 1-D and 2-D, strides,
    dilations, asymmetric pads, groups, auto_pad SAME_LOWER / VALID,
    ceil_mode, count_include_pad, global max pool, and a BatchNormalization
    whose statistics are graph inputs (not folded)."""
    r = rng(21)
    n = [
        node("Conv", ["x1", "w1"], ["conv1d"], group=2, strides=[2], pads=[1, 3],
             dilations=[2]),
        node("Conv", ["x", "w2"], ["conv_dil"], strides=[2, 1], pads=[0, 1, 2, 1],
             dilations=[1, 2]),
        node("Conv", ["x", "w3", "b3"], ["conv_same"], strides=[2, 2], auto_pad="SAME_LOWER"),
        node("Conv", ["x", "w3", "b3"], ["conv_valid"], auto_pad="VALID"),
        node("MaxPool", ["x"], ["max_ceil"], kernel_shape=[3, 3], strides=[2, 2],
             pads=[1, 1, 1, 1], ceil_mode=1),
        node("MaxPool", ["x"], ["max_dil"], kernel_shape=[2, 2], dilations=[2, 2]),
        node("AveragePool", ["x"], ["avg_pad"], kernel_shape=[3, 3], strides=[2, 2],
             pads=[1, 1, 1, 1], count_include_pad=1),
        node("AveragePool", ["x"], ["avg_ceil"], kernel_shape=[3, 2], strides=[2, 2],
             pads=[0, 1, 1, 0], ceil_mode=1),
        node("AveragePool", ["x1"], ["avg1d"], kernel_shape=[3], strides=[2]),
        node("GlobalMaxPool", ["x"], ["gmax"]),
        node("BatchNormalization", ["x", "s", "b", "m", "v"], ["bn_dynamic"], epsilon=1e-3),
    ]
    inits = [init("w1", r.normal(0, 0.3, (6, 2, 5)).astype(np.float32)),
             init("w2", r.normal(0, 0.3, (5, 4, 3, 2)).astype(np.float32)),
             init("w3", r.normal(0, 0.3, (3, 4, 3, 3)).astype(np.float32)),
             init("b3", r.normal(0, 0.1, (3,)).astype(np.float32))]
    inputs = [tensor_in("x", [2, 4, 9, 11]), tensor_in("x1", [2, 4, 20]),
              tensor_in("s", [4]), tensor_in("b", [4]), tensor_in("m", [4]), tensor_in("v", [4])]
    outs = ["conv1d", "conv_dil", "conv_same", "conv_valid", "max_ceil", "max_dil", "avg_pad",
            "avg_ceil", "avg1d", "gmax", "bn_dynamic"]
    model = make(n, inputs, [helper.make_empty_tensor_value_info(o) for o in outs], inits,
                 opset=17)
    feeds = [{"x": r.normal(size=(2, 4, 9, 11)).astype(np.float32),
              "x1": r.normal(size=(2, 4, 20)).astype(np.float32),
              "s": r.uniform(0.5, 1.5, 4).astype(np.float32),
              "b": r.normal(0, 0.1, 4).astype(np.float32),
              "m": r.normal(0, 0.2, 4).astype(np.float32),
              "v": r.uniform(0.5, 2.0, 4).astype(np.float32)}]
    return Case("conv_pool_ops", model, feeds, atol=1e-4)


def avg_pool_overhang():
    """ceil_mode windows reaching past the end padding, counted with
    count_include_pad: the divisor covers the padded cells only. Along W
    (11 + 2 pads, kernel 3, stride 3) a last window would start in the end
    padding: onnxruntime and PyTorch drop it, so y is [2, 4, 4, 4] (onnx's
    shape inference keeps it, so the output type is declared, not inferred)."""
    r = rng(22)
    n = [node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[3, 3],
              pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=1)]
    model = make(n, [tensor_in("x", [2, 4, 9, 11])], [tensor_in("y", [2, 4, 4, 4])], opset=17)
    return Case("avg_pool_overhang", model,
                [{"x": r.normal(size=(2, 4, 9, 11)).astype(np.float32)}])


def conv3d_unsupported():
    w = np.zeros((2, 1, 2, 2, 2), np.float32)
    n = [node("Conv", ["x", "w"], ["y"], name="the_conv3d")]
    model = make(n, [tensor_in("x", [1, 1, 4, 4, 4])], [tensor_in("y", [1, 2, 3, 3, 3])],
                 [init("w", w)])
    return Case("conv3d_unsupported", model, expect_error=["the_conv3d", "3-D Conv"])


def all_cases():
    cases = [mlp(), mlp(external=True), layer_norm(), encoder_block(), shape_ops(), elementwise(),
             typed_initializers(), unsupported_op(), small_cnn(), conv_pool_ops(),
             avg_pool_overhang(), conv3d_unsupported()]
    return cases + [opset_variant(o) for o in (7, 11, 13, 17, 21)]


if __name__ == "__main__":
    # make_models.py DIR: DIR/<case>/model.onnx as the tests use them.
    # make_models.py --corpus DIR: DIR/<case>.onnx, weights inline (a fuzzing corpus).
    corpus = len(sys.argv) > 2 and sys.argv[1] == "--corpus"
    out = sys.argv[-1] if len(sys.argv) > 1 else "onnx_models"
    os.makedirs(out, exist_ok=True)
    for case in all_cases():
        if corpus:
            path = os.path.join(out, case.name + ".onnx")
            onnx.save_model(case.model, path)
        else:
            path = case.save(os.path.join(out, case.name))
        print(path)
