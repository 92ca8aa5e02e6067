#!/usr/bin/python3
"""Checks that forward_np.py computes what the model families compute: loads
a tiny fixture checkpoint (internal/compute/transformer/testdata/families/
DIR: config.json, float32 model.safetensors, reference.safetensors) into
forward_np.Model and compares every layer's hook_resid_post with the
reference at 1e-4 relative (of max(1, max|ref|)), case by case.

    scripts/openblas/forward_np_check.py [DIR...]    (default: llama3-gqa gemma2-softcap-window pythia-parallel)

Configs in the old form only (rope_theta + rope_scaling, as the benchmark shapes
are), not transformers-5 rope_parameters.
"""
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import forward_np as fn  # noqa: E402

FAMILIES = os.path.join(HERE, "..", "..", "internal", "compute", "transformer", "testdata", "families")


def safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in head.items():
        if name == "__metadata__":
            continue
        dt = {"F32": np.float32, "I64": np.int64, "I32": np.int32}[t["dtype"]]
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=dt).reshape(t["shape"])
    return out


def load(m, cfg, w, ids):
    """Put checkpoint weights w into forward_np.Model m, laid out as it keeps them."""
    fam, h, kvh, hd = m.fam, m.h, m.kvh, m.hd
    m.emb = w[("gpt_neox.embed_in.weight" if fam == "gpt_neox" else "model.embed_tokens.weight")][ids].astype(np.float32)
    for i, b in enumerate(m.blocks):
        if fam == "gpt_neox":
            p = f"gpt_neox.layers.{i}."
            qkv = w[p + "attention.query_key_value.weight"].reshape(h, 3, hd, -1)  # per head: q, k, v rows
            qkv_b = w[p + "attention.query_key_value.bias"].reshape(h, 3, hd)
            b["qkv"] = np.ascontiguousarray(np.concatenate([qkv[:, j].reshape(h * hd, -1) for j in range(3)]).T)
            b["qkv_b"] = np.concatenate([qkv_b[:, j].reshape(-1) for j in range(3)])
            b["o"], b["o_b"] = np.ascontiguousarray(w[p + "attention.dense.weight"].T), w[p + "attention.dense.bias"]
            b["up"], b["up_b"] = np.ascontiguousarray(w[p + "mlp.dense_h_to_4h.weight"].T), w[p + "mlp.dense_h_to_4h.bias"]
            b["down"], b["down_b"] = np.ascontiguousarray(w[p + "mlp.dense_4h_to_h.weight"].T), w[p + "mlp.dense_4h_to_h.bias"]
            b["ln1_w"], b["ln1_b"] = w[p + "input_layernorm.weight"], w[p + "input_layernorm.bias"]
            b["ln2_w"], b["ln2_b"] = w[p + "post_attention_layernorm.weight"], w[p + "post_attention_layernorm.bias"]
            continue
        p = f"model.layers.{i}."
        a = p + "self_attn."
        b["qkv"] = np.ascontiguousarray(np.concatenate([w[a + x + "_proj.weight"] for x in "qkv"]).T)
        b["o"] = np.ascontiguousarray(w[a + "o_proj.weight"].T)
        b["up"] = np.ascontiguousarray(np.concatenate([w[p + "mlp.gate_proj.weight"], w[p + "mlp.up_proj.weight"]]).T)
        b["down"] = np.ascontiguousarray(w[p + "mlp.down_proj.weight"].T)
        plus = np.float32(1) if fam == "gemma2" else np.float32(0)
        b["ln1"] = w[p + "input_layernorm.weight"] + plus
        if fam == "gemma2":
            b["post_attn"] = w[p + "post_attention_layernorm.weight"] + plus
            b["ln2"] = w[p + "pre_feedforward_layernorm.weight"] + plus
            b["post_ff"] = w[p + "post_feedforward_layernorm.weight"] + plus
        else:
            b["ln2"] = w[p + "post_attention_layernorm.weight"]


def check(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    w = safetensors(os.path.join(d, "model.safetensors"))
    ref = safetensors(os.path.join(d, "reference.safetensors"))
    worst = 0.0
    for case in json.load(open(os.path.join(d, "reference.json")))["cases"]:
        c = case["index"]
        ids = ref[f"c{c}.tokens"].astype(np.int64)
        layers = cfg["num_hidden_layers"]
        m = fn.Model(cfg, layers, len(ids))
        load(m, cfg, w, ids)
        x = m.emb.copy()
        if m.fam == "gemma2":
            x *= np.float32(np.sqrt(cfg["hidden_size"]))
        # run block by block through forward() on truncated copies
        for L in range(layers):
            blocks = m.blocks
            m.blocks = blocks[:L + 1]
            got = m.forward()
            m.blocks = blocks
            want = ref[f"c{c}.blocks.{L}.hook_resid_post"]
            err = float(np.max(np.abs(got - want))) / max(1.0, float(np.max(np.abs(want))))
            worst = max(worst, err)
            if not err <= 1e-4:
                sys.exit(f"forward_np_check: {d}: case {c} blocks.{L}.hook_resid_post: relative error {err:.3g} > 1e-4")
    print(f"{os.path.basename(d)}: every case and layer within {worst:.2g} of the reference")


def main():
    dirs = sys.argv[1:] or ["llama3-gqa", "gemma2-softcap-window", "pythia-parallel"]
    for d in dirs:
        check(d if os.path.isdir(d) else os.path.join(FAMILIES, d))


if __name__ == "__main__":
    main()
