#!/usr/bin/env python3
"""Writes the small random cases of the released SAE formats in this folder.

Run from anywhere with python3 + numpy (no torch): /usr/bin/python3 make_formats.py
Each case is written from the format definitions (see README.md for where each
fact comes from) together with expected.safetensors: input [12, d_in],
feature_acts [12, d_sae] and reconstruction [12, d_in], computed in float64 by
the numpy transcription of the encode math below from the stored (rounded)
weights, then stored as float32. Seeds are fixed, so a rerun writes the same
bytes; a case is redrawn (next seed) if any pre-activation lies within 1e-3 of
its threshold or the k-th and (k+1)-th top-k values are that close, so float32
rounding in Go cannot flip a decision.
"""

import io
import json
import math
import os
import struct
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
N = 12  # tokens per case


# ---------------------------------------------------------------- writers


def bf16_round(a):
    """float32 -> bfloat16 bit patterns (round to nearest even) and their values."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    u = a.view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    bits = u.astype(np.uint16)
    back = (bits.astype(np.uint32) << 16).view(np.float32)
    return bits, back.astype(np.float64)


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> (dtype, ndarray). dtype "F32" or "BF16" (array of uint16 bits)."""
    header, blobs, off = {}, [], 0
    for name, (dt, arr) in tensors.items():
        raw = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def f32(a):
    return ("F32", np.asarray(a, dtype=np.float32))


def write_npz(path, arrays):
    """An uncompressed npz of float32 .npy members, as numpy.savez writes it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.save(buf, np.asarray(arr, dtype=np.float32))
            info = zipfile.ZipInfo(name + ".npy", date_time=(2024, 7, 31, 0, 0, 0))
            z.writestr(info, buf.getvalue())


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def write_expected(dir_, x, acts, recon, note):
    write_safetensors(
        os.path.join(dir_, "expected.safetensors"),
        {"input": f32(x), "feature_acts": f32(acts), "reconstruction": f32(recon)},
    )
    nz = [int(v) for v in (acts != 0).sum(axis=1)]
    write_json(os.path.join(dir_, "expected.json"), dict(note, nonzero_per_row=nz))


# ---------------------------------------------------------------- math


def jumprelu(h, thr):
    """SAELens jumprelu: relu(h) * (h > threshold), strict '>'."""
    return np.where(h > thr, np.maximum(h, 0.0), 0.0)


def topk_relu(pre, k):
    """EleutherAI: relu first, then torch.topk(k); zeros among the k stay 0."""
    act = np.maximum(pre, 0.0)
    out = np.zeros_like(act)
    for r in range(act.shape[0]):
        idx = np.argsort(-act[r], kind="stable")[:k]
        out[r, idx] = act[r, idx]
    return out


def margin_ok(h, thr):
    return np.all(np.abs(h - thr) > 1e-3 * max(1.0, np.abs(h).max()))


def topk_margin_ok(pre, k):
    act = np.sort(np.maximum(pre, 0.0), axis=1)[:, ::-1]
    gap = act[:, k - 1] - act[:, k]
    # a zero k-th value needs no margin: the missing slots are zeros either way
    return np.all((gap > 1e-3 * max(1.0, act.max())) | (act[:, k - 1] == 0))


# ---------------------------------------------------------------- cases


def llama_scope(name, seed, d_model=16, d_sae=64, norm_in=11.0, theta=0.35, bdec_pre=False):
    """OpenMOSS Llama Scope folder: hyperparams.json + checkpoints/final.safetensors (bf16,
    nn.Linear layout). Expected values follow SAELens's llama_scope loader + from_pretrained:
    s = sqrt(d_model)/norm_in, h = (s*x) @ W_enc + b_enc, f = relu(h) * (h > theta*s),
    x_hat = (f @ W_dec + b_dec) / s."""
    while True:
        rng = np.random.default_rng(seed)
        enc_w = rng.normal(0, 1 / math.sqrt(d_model), (d_sae, d_model)).astype(np.float32)
        enc_b = rng.normal(0, 0.1, d_sae).astype(np.float32)
        dec_w = rng.normal(0, 1 / math.sqrt(d_model), (d_model, d_sae)).astype(np.float32)
        dec_b = rng.normal(0, 0.2, d_model).astype(np.float32)
        x = rng.normal(0, norm_in / math.sqrt(d_model), (N, d_model)).astype(np.float32)
        x64 = x.astype(np.float64)
        ew_bits, ew = bf16_round(enc_w)
        eb_bits, eb = bf16_round(enc_b)
        dw_bits, dw = bf16_round(dec_w)
        db_bits, db = bf16_round(dec_b)
        s = math.sqrt(d_model) / norm_in
        sae_in = s * x64
        if bdec_pre:
            sae_in = sae_in - db
        h = sae_in @ ew.T + eb
        thr = theta * s
        if margin_ok(h, thr):
            break
        seed += 1000
    f = jumprelu(h, thr)
    recon = (f @ dw.T + db) / s
    d = os.path.join(HERE, name)
    write_json(
        os.path.join(d, "hyperparams.json"),
        {
            "d_model": d_model,
            "d_sae": d_sae,
            "expansion_factor": d_sae // d_model,
            "hook_point_in": "blocks.5.hook_resid_post",
            "hook_point_out": "blocks.5.hook_resid_post",
            "act_fn": "jumprelu",
            "jump_relu_threshold": theta,
            "norm_activation": "dataset-wise",
            "dataset_average_activation_norm": {"in": norm_in, "out": norm_in},
            "apply_decoder_bias_to_pre_encoder": bdec_pre,
            "sparsity_include_decoder_norm": True,
            "use_decoder_bias": True,
            "top_k": 6,
        },
    )
    write_safetensors(
        os.path.join(d, "checkpoints", "final.safetensors"),
        {
            "encoder.weight": ("BF16", ew_bits),
            "encoder.bias": ("BF16", eb_bits),
            "decoder.weight": ("BF16", dw_bits),
            "decoder.bias": ("BF16", db_bits),
        },
    )
    write_expected(
        d, x, f, recon,
        {"format": "Llama Scope (OpenMOSS): hyperparams.json + checkpoints/final.safetensors, bf16, nn.Linear layout",
         "math": "s=sqrt(d_model)/norm.in; h=(s*x)@encoder.weight.T+encoder.bias" + (" (after subtracting decoder.bias)" if bdec_pre else "")
         + "; f=relu(h)*(h>jump_relu_threshold*s); recon=(f@decoder.weight.T+decoder.bias)/s",
         "seed": seed},
    )


def eleuther(name, folder, seed, d_in=16, cfg=None, k=8, bf16=False, unit_dec=True, w_enc_name="encoder.weight"):
    """EleutherAI sae/sparsify folder: cfg.json + sae.safetensors (encoder.weight [d_sae,d_in],
    encoder.bias, W_dec [d_sae,d_in], b_dec). Encode: pre = relu((x - b_dec) @ encoder.weight.T
    + encoder.bias); top-k of pre; recon = f @ W_dec + b_dec."""
    d_sae = cfg.get("num_latents") or d_in * cfg["expansion_factor"]
    while True:
        rng = np.random.default_rng(seed)
        enc_w = rng.normal(0, 1 / math.sqrt(d_in), (d_sae, d_in)).astype(np.float32)
        enc_b = rng.normal(0, 0.1, d_sae).astype(np.float32)
        w_dec = rng.normal(0, 1 / math.sqrt(d_in), (d_sae, d_in))
        if unit_dec:  # set_decoder_norm_to_unit_norm: W_dec /= ||row|| + eps
            w_dec = w_dec / (np.linalg.norm(w_dec, axis=1, keepdims=True) + np.finfo(np.float32).eps)
        w_dec = (w_dec * (1 if unit_dec else 1.7)).astype(np.float32)
        b_dec = rng.normal(0, 0.3, d_in).astype(np.float32)
        x = rng.normal(0, 1, (N, d_in)).astype(np.float32)
        if bf16:
            tens = {}
            vals = {}
            for n, a in ((w_enc_name, enc_w), ("encoder.bias", enc_b), ("W_dec", w_dec), ("b_dec", b_dec)):
                bits, v = bf16_round(a)
                tens[n], vals[n] = ("BF16", bits), v
        else:
            tens = {w_enc_name: f32(enc_w), "encoder.bias": f32(enc_b), "W_dec": f32(w_dec), "b_dec": f32(b_dec)}
            vals = {n: a.astype(np.float64) for n, a in ((w_enc_name, enc_w), ("encoder.bias", enc_b), ("W_dec", w_dec), ("b_dec", b_dec))}
        pre = (x.astype(np.float64) - vals["b_dec"]) @ vals[w_enc_name].T + vals["encoder.bias"]
        if topk_margin_ok(pre, k):
            break
        seed += 1000
    f = topk_relu(pre, k)
    recon = f @ vals["W_dec"] + vals["b_dec"]
    d = os.path.join(HERE, name, folder)
    write_json(os.path.join(d, "cfg.json"), cfg)
    write_safetensors(os.path.join(d, "sae.safetensors"), tens)
    write_expected(
        d, x, f, recon,
        {"format": "EleutherAI sae/sparsify: cfg.json + sae.safetensors" + (" (bf16)" if bf16 else ""),
         "math": "pre=relu((x-b_dec)@encoder.weight.T+encoder.bias); f=topk(pre,k); recon=f@W_dec+b_dec",
         "k": k, "seed": seed},
    )


def gemma_params(seed, d_in, d_sae, x_scale=1.0):
    while True:
        rng = np.random.default_rng(seed)
        p = {
            "W_enc": rng.normal(0, 1 / math.sqrt(d_in), (d_in, d_sae)).astype(np.float32),
            "W_dec": rng.normal(0, 1 / math.sqrt(d_in), (d_sae, d_in)).astype(np.float32),
            "b_enc": rng.normal(0, 0.1, d_sae).astype(np.float32),
            "b_dec": rng.normal(0, 0.2, d_in).astype(np.float32),
            "threshold": np.abs(rng.normal(0.2, 0.1, d_sae)).astype(np.float32),
        }
        x = rng.normal(0, x_scale, (N, d_in)).astype(np.float32)
        yield seed, p, x
        seed += 1000


def gemma_scope_npz(name, seed, d_in=16, d_sae=64, embedding=False):
    """Gemma Scope params.npz (W_enc [d_in,d_sae], W_dec, b_enc, b_dec, threshold; float32).
    SAELens gemma_2 loader: no b_dec subtraction, jumprelu; for embedding SAEs W_enc /= sqrt(d_in)
    and W_dec *= sqrt(d_in) on load."""
    for seed, p, x in gemma_params(seed, d_in, d_sae, x_scale=math.sqrt(d_in) if embedding else 1.0):
        we, wd = p["W_enc"].astype(np.float64), p["W_dec"].astype(np.float64)
        if embedding:
            we, wd = we / math.sqrt(d_in), wd * math.sqrt(d_in)
        h = x.astype(np.float64) @ we + p["b_enc"]
        if margin_ok(h, p["threshold"].astype(np.float64)):
            break
    f = jumprelu(h, p["threshold"].astype(np.float64))
    recon = f @ wd + p["b_dec"]
    d = os.path.join(HERE, name)
    write_npz(os.path.join(d, "params.npz"), p)
    write_expected(
        d, x, f, recon,
        {"format": "Gemma Scope params.npz" + (" (embedding SAE: W_enc/sqrt(d_in), W_dec*sqrt(d_in))" if embedding else ""),
         "math": "h=x@W_enc+b_enc; f=relu(h)*(h>threshold); recon=f@W_dec+b_dec", "seed": seed},
    )


def gemma_scope_saelens(name, seed, v6, d_in=16, d_sae=64, layer=3):
    """Gemma Scope as SAELens holds it after its gemma_2 loader, saved with save_model: cfg.json
    (the flat config get_gemma_2_config_from_hf builds, or the 6.x to_dict form) and
    sae_weights.safetensors with the SAELens names W_enc, W_dec, b_enc, b_dec, threshold."""
    for seed, p, x in gemma_params(seed, d_in, d_sae):
        h = x.astype(np.float64) @ p["W_enc"] + p["b_enc"]
        if margin_ok(h, p["threshold"].astype(np.float64)):
            break
    f = jumprelu(h, p["threshold"].astype(np.float64))
    recon = f @ p["W_dec"].astype(np.float64) + p["b_dec"]
    hook = "blocks.%d.hook_resid_post" % layer
    if v6:
        cfg = {
            "d_in": d_in, "d_sae": d_sae, "dtype": "float32", "device": "cpu",
            "apply_b_dec_to_input": False, "normalize_activations": "none",
            "reshape_activations": "none", "architecture": "jumprelu",
            "metadata": {
                "sae_lens_version": "6.18.0", "sae_lens_training_version": None,
                "model_name": "gemma-2-2b", "hook_name": hook, "hook_head_index": None,
                "prepend_bos": True, "dataset_path": "monology/pile-uncopyrighted",
                "context_size": 1024, "model_from_pretrained_kwargs": {},
                "neuronpedia_id": "gemma-2-2b/%d-gemmascope-res-16k" % layer,
            },
        }
    else:
        cfg = {
            "architecture": "jumprelu", "d_in": d_in, "d_sae": d_sae, "dtype": "float32",
            "model_name": "gemma-2-2b", "hook_name": hook, "hook_layer": layer,
            "hook_head_index": None, "activation_fn": "relu", "finetuning_scaling_factor": False,
            "sae_lens_training_version": None, "prepend_bos": True,
            "dataset_path": "monology/pile-uncopyrighted", "context_size": 1024,
            "dataset_trust_remote_code": True, "apply_b_dec_to_input": False,
            "normalize_activations": None, "device": "cpu",
            "neuronpedia_id": "gemma-2-2b/%d-gemmascope-res-16k" % layer,
        }
    d = os.path.join(HERE, name)
    write_json(os.path.join(d, "cfg.json"), cfg)
    write_safetensors(os.path.join(d, "sae_weights.safetensors"), {k: f32(v) for k, v in p.items()})
    write_expected(
        d, x, f, recon,
        {"format": "Gemma Scope in SAELens form (%s cfg.json + sae_weights.safetensors)" % ("6.x" if v6 else "pre-6 flat"),
         "math": "h=x@W_enc+b_enc; f=relu(h)*(h>threshold); recon=f@W_dec+b_dec", "seed": seed},
    )


def main():
    llama_scope("llama-scope/Llama3_1-8B-Base-L5R-8x", 11)
    llama_scope("llama-scope-bdec/Llama3_1-8B-Base-L5R-8x", 12, norm_in=5.0, theta=0.2, bdec_pre=True)
    # sparsify (2025): hookpoint folders, all SparseCoderConfig fields written
    eleuther("eleuther-pythia", "layers.3", 21, cfg={
        "activation": "topk", "expansion_factor": 32, "normalize_decoder": True, "num_latents": 64,
        "k": 8, "multi_topk": False, "skip_connection": False, "transcode": False, "d_in": 16})
    # sae (late 2024): hookpoint folder, W_dec without unit norm, bf16 weights
    eleuther("eleuther-llama", "layers.5.mlp", 22, bf16=True, unit_dec=False, cfg={
        "expansion_factor": 4, "normalize_decoder": False, "num_latents": 0, "k": 8,
        "multi_topk": False, "d_in": 16})
    # sae (July 2024, before hookpoints): layer_N folders = hidden_states[N]
    eleuther("eleuther-layer", "layer_2", 23, cfg={
        "expansion_factor": 4, "normalize_decoder": True, "num_latents": 0, "k": 8, "d_in": 16})
    gemma_scope_npz("gemma-scope-2b-pt-res/layer_3/width_16k/average_l0_7", 31)
    gemma_scope_npz("gemma-scope-2b-pt-res/embedding/width_4k/average_l0_6", 32, embedding=True)
    gemma_scope_saelens("gemma-scope-saelens-pre6", 33, v6=False)
    gemma_scope_saelens("gemma-scope-saelens-v6", 34, v6=True)


if __name__ == "__main__":
    main()
