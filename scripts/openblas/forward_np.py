#!/usr/bin/python3
"""numpy float32 peer of `saex bench forward` (issue 13): a random-weight model
of a Hugging Face config's shape, only the first LAYERS blocks, run on one
sequence of T tokens up to blocks.{LAYERS-1}.hook_resid_post.

    OPENBLAS_NUM_THREADS=2 forward_np.py CONFIG LAYERS T [CALLS]

Families: gemma2, llama (and qwen2/qwen3 without their biases/q-k norms: the
same products), gpt_neox. Written to be a fair, fast numpy: weights stored
[in, out] and contiguous, Q/K/V in one product and gate/up in one product (as
saex stacks them), attention batched over heads with grouped-query heads
reshaped, not repeated; everything float32. The embedding holds only the T
rows the sequence uses (a gather costs nothing; saex reads a 16-bit row per
token), and nothing past the hook (final norm, unembedding) is built.

Prints one JSON line: the median over CALLS (default 5) calls, after one
warm-up, of wall seconds and process CPU seconds per call, the OpenBLAS core
type and thread count actually in use, and the peak RSS of the process.
"""
import ctypes
import json
import math
import resource
import sys
import time

import numpy as np

F = np.float32


def openblas_info():
    """Core type and threads of the OpenBLAS numpy loaded (or why unknown)."""
    for name in ("libopenblas.so.0", "libopenblasp-r0.3.21.so"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.openblas_get_corename.restype = ctypes.c_char_p
        lib.openblas_get_config.restype = ctypes.c_char_p
        # The handle is the already-loaded library numpy uses (same soname).
        return {"corename": lib.openblas_get_corename().decode(),
                "blas_config": lib.openblas_get_config().decode(),
                "blas_threads": lib.openblas_get_num_threads()}
    return {"corename": "unknown"}


class Rand:
    """Uniform weights with standard deviation 0.02 (as saex's NewRandom)."""

    def __init__(self, seed=1):
        self.r = np.random.default_rng(seed)

    def mat(self, *shape):
        a = self.r.random(shape, dtype=F)
        a -= F(0.5)
        a *= F(0.02 * math.sqrt(12))
        return a

    def gain(self, n, base):
        return base + self.mat(n)


def rms_norm(x, w, eps):
    ms = np.mean(x * x, axis=-1, keepdims=True)
    return x * (1.0 / np.sqrt(ms + F(eps))).astype(F) * w


def layer_norm(x, w, b, eps):
    mu = np.mean(x, axis=-1, keepdims=True)
    xc = x - mu
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    return xc * (1.0 / np.sqrt(var + F(eps))).astype(F) * w + b


def gelu_tanh(x):
    return F(0.5) * x * (F(1) + np.tanh(F(math.sqrt(2 / math.pi)) * (x + F(0.044715) * x * x * x)))


def erf(x):
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf, and
    # math.erf per element would make the peer unfairly slow.
    s = np.sign(x)
    a = np.abs(x)
    t = F(1) / (F(1) + F(0.3275911) * a)
    y = F(1) - (((((F(1.061405429) * t - F(1.453152027)) * t) + F(1.421413741)) * t - F(0.284496736)) * t
                + F(0.254829592)) * t * np.exp(-a * a)
    return s * y


def gelu_erf(x):
    return F(0.5) * x * (F(1) + erf(x * F(1 / math.sqrt(2))))


def silu(x):
    return x / (F(1) + np.exp(-x))


def inv_freq(cfg, rot):
    theta = cfg.get("rope_theta", cfg.get("rotary_emb_base", 10000.0))
    f = 1.0 / theta ** (np.arange(0, rot, 2, dtype=np.float64) / rot)
    rs = cfg.get("rope_scaling") or {}
    if rs.get("rope_type", rs.get("type")) == "llama3":
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        wl = 2 * math.pi / f
        smooth = (old / wl - lo) / (hi - lo)
        mid = (1 - smooth) * f / factor + smooth * f
        f = np.where(wl > old / lo, f / factor, np.where(wl < old / hi, f, mid))
    return f


def rope_tables(cfg, t, rot):
    ang = np.outer(np.arange(t, dtype=np.float64), inv_freq(cfg, rot))
    ang = np.concatenate([ang, ang], axis=1)
    return np.cos(ang).astype(F), np.sin(ang).astype(F)


def rope(x, cos, sin, rot):
    """Rotate-half RoPE on the first rot dims of x [heads, T, hd]."""
    r, rest = x[..., :rot], x[..., rot:]
    h = rot // 2
    rh = np.concatenate([-r[..., h:], r[..., :h]], axis=-1)
    r = r * cos + rh * sin
    return np.concatenate([r, rest], axis=-1) if rest.shape[-1] else r


def attention(q, k, v, scale, softcap=None, window=None):
    """q [H, T, hd], k and v [KVH, T, hd]: causal attention, z [T, H*hd]."""
    h, t, hd = q.shape
    kvh = k.shape[0]
    g = h // kvh
    qg = q.reshape(kvh, g * t, hd)                        # heads sharing a K/V stacked along rows
    s = np.matmul(qg, k.transpose(0, 2, 1)) * F(scale)    # [KVH, G*T, T]
    s = s.reshape(kvh, g, t, t)
    if softcap:
        s = np.tanh(s / F(softcap)) * F(softcap)
    i = np.arange(t)
    mask = i[None, :] > i[:, None]
    if window:
        mask |= i[None, :] <= i[:, None] - window
    s = np.where(mask, F(-np.inf), s)
    s -= s.max(axis=-1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(axis=-1, keepdims=True)
    z = np.matmul(s.reshape(kvh, g * t, t), v).reshape(h, t, hd)
    return z.transpose(1, 0, 2).reshape(t, h * hd)


class Model:
    def __init__(self, cfg, layers, t):
        self.cfg, self.layers, self.t = cfg, layers, t
        self.fam = cfg["model_type"]
        d = cfg["hidden_size"]
        self.h = cfg["num_attention_heads"]
        self.kvh = cfg.get("num_key_value_heads", self.h)
        self.hd = cfg.get("head_dim") or d // self.h
        inner = cfg["intermediate_size"]
        r = Rand()
        self.emb = r.mat(t, d)  # the T rows the sequence uses
        qd, kvd = self.h * self.hd, self.kvh * self.hd
        gated = self.fam != "gpt_neox"
        self.blocks = []
        for layer in range(layers):
            b = {"qkv": r.mat(d, qd + 2 * kvd), "o": r.mat(qd, d),
                 "up": r.mat(d, 2 * inner if gated else inner), "down": r.mat(inner, d)}
            if self.fam == "gpt_neox":
                for n, size in (("qkv_b", qd + 2 * kvd), ("o_b", d), ("up_b", inner), ("down_b", d)):
                    b[n] = r.mat(size)
                for n in ("ln1", "ln2"):
                    b[n + "_w"], b[n + "_b"] = r.gain(d, 1), r.mat(d)
            else:
                base = 0 if self.fam == "gemma2" else 1
                names = ("ln1", "ln2", "post_attn", "post_ff") if self.fam == "gemma2" else ("ln1", "ln2")
                for n in names:
                    w = r.gain(d, base)
                    b[n] = w + F(1) if self.fam == "gemma2" else w  # Gemma scales by (1 + w)
            self.blocks.append(b)
        self.rot = int(self.hd * cfg.get("rotary_pct", 1.0)) if self.fam == "gpt_neox" else self.hd
        self.cos, self.sin = rope_tables(cfg, t, self.rot)

    def heads(self, qkv):
        t, hd, h, kvh = qkv.shape[0], self.hd, self.h, self.kvh
        q = qkv[:, :h * hd].reshape(t, h, hd).transpose(1, 0, 2)
        k = qkv[:, h * hd:(h + kvh) * hd].reshape(t, kvh, hd).transpose(1, 0, 2)
        v = qkv[:, (h + kvh) * hd:].reshape(t, kvh, hd).transpose(1, 0, 2)
        return (rope(q, self.cos, self.sin, self.rot), rope(k, self.cos, self.sin, self.rot),
                np.ascontiguousarray(v))

    def forward(self):
        cfg, fam = self.cfg, self.fam
        x = self.emb.copy()
        if fam == "gemma2":
            x *= F(math.sqrt(cfg["hidden_size"]))
        eps = cfg.get("rms_norm_eps", cfg.get("layer_norm_eps", 1e-5))
        inner = cfg["intermediate_size"]
        for i, b in enumerate(self.blocks):
            if fam == "gpt_neox":
                a = layer_norm(x, b["ln1_w"], b["ln1_b"], eps)
                q, k, v = self.heads(a @ b["qkv"] + b["qkv_b"])
                z = attention(q, k, v, 1 / math.sqrt(self.hd))
                attn = z @ b["o"] + b["o_b"]
                m = layer_norm(x if cfg.get("use_parallel_residual", True) else x + attn, b["ln2_w"], b["ln2_b"], eps)
                mlp = gelu_erf(m @ b["up"] + b["up_b"]) @ b["down"] + b["down_b"]
                x = x + attn + mlp
                continue
            a = rms_norm(x, b["ln1"], eps)
            q, k, v = self.heads(a @ b["qkv"])
            if fam == "gemma2":
                window = cfg.get("sliding_window") if i % 2 == 0 else None
                z = attention(q, k, v, cfg.get("query_pre_attn_scalar", self.hd) ** -0.5,
                              cfg.get("attn_logit_softcapping"), window)
                x = x + rms_norm(z @ b["o"], b["post_attn"], eps)
                gu = rms_norm(x, b["ln2"], eps) @ b["up"]
                x = x + rms_norm((gelu_tanh(gu[:, :inner]) * gu[:, inner:]) @ b["down"], b["post_ff"], eps)
            else:
                z = attention(q, k, v, self.hd ** -0.5)
                x = x + z @ b["o"]
                gu = rms_norm(x, b["ln2"], eps) @ b["up"]
                x = x + (silu(gu[:, :inner]) * gu[:, inner:]) @ b["down"]
        return x


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    cfg = json.load(open(sys.argv[1]))
    layers, t = int(sys.argv[2]), int(sys.argv[3])
    calls = int(sys.argv[4]) if len(sys.argv) == 5 else 5
    if cfg.get("model_type") not in ("gemma2", "llama", "qwen2", "qwen3", "mistral", "gpt_neox"):
        sys.exit(f"forward_np.py: {sys.argv[1]}: model_type {cfg.get('model_type')!r} not supported")
    m = Model(cfg, layers, t)
    out = m.forward()  # warm-up
    assert out.shape == (t, cfg["hidden_size"]) and np.isfinite(out).all(), "forward_np.py: bad output"
    walls, cpus = [], []
    for _ in range(calls):
        w, c = time.perf_counter(), time.process_time()
        m.forward()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    rec = {"seconds_per_call": float(np.median(walls)), "cpu_seconds_per_call": float(np.median(cpus)),
           "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    rec.update(openblas_info())
    print(json.dumps(rec))


if __name__ == "__main__":
    main()
