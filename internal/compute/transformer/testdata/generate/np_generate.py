#!/usr/bin/python3
"""Greedy-generation references for the transformer package's Generate, with and without steering, from an
independent float64 numpy forward: tools/np_families.py's transcription of the Hugging Face families (steering hooks
spliced in at hook_resid_pre / hook_resid_post) plus a GPT-2 transcription here. Every step reruns the whole sequence
(no cache), so the references test the KV cache too.

Usage: np_generate.py NP_FAMILIES_PY OUT_JSON   (run from internal/compute/transformer)
"""
import json, math, os, struct, sys
import numpy as np

src = open(sys.argv[1]).read()
# Splice a steering call in before each residual hook is recorded: x = STEER(x, hook).
for hk in ("hook_resid_pre", "hook_resid_post"):
    old = 'hooks[f"blocks.{L}.%s"] = x.copy()' % hk
    assert src.count(old) >= 1, hk
    src = src.replace(old, 'x = STEER(x, f"blocks.{L}.%s"); ' % hk + old)
npf = {"__name__": "np_families"}
exec(compile(src.split('if __name__ == "__main__":')[0], "np_families.py", "exec"), npf)

STEERS = {}   # hook -> list of (vector, coeff)
METHOD = ["SIMPLE_ADDITIVE"]

def STEER(x, hook):
    for v, c in STEERS.get(hook, []):
        if METHOD[0] == "SIMPLE_ADDITIVE":
            x = x + c * v
        else:  # ORTHOGONAL_DECOMP: h + (c-1)(h.u)u
            u = v / np.linalg.norm(v)
            x = x + (c - 1) * (x @ u)[:, None] * u[None, :]
    return x
npf["STEER"] = STEER

def gpt2_forward(cfg, w, ids):
    d = cfg["n_embd"]; H = cfg["n_head"]; hd = d // H; eps = cfg["layer_norm_epsilon"]; T = len(ids)
    g = lambda k: w.get("transformer." + k, w.get(k))
    x = g("wte.weight")[ids] + g("wpe.weight")[np.arange(T)]
    for L in range(cfg["n_layer"]):
        p = f"h.{L}."
        x = STEER(x, f"blocks.{L}.hook_resid_pre")
        a = npf["layernorm"](x, g(p + "ln_1.weight"), g(p + "ln_1.bias"), eps)
        qkv = a @ g(p + "attn.c_attn.weight") + g(p + "attn.c_attn.bias")
        q, k, v = (qkv[:, i * d:(i + 1) * d].reshape(T, H, hd) for i in range(3))
        z = npf["attend"](q, k, v, hd ** -0.5).reshape(T, d)
        x = x + z @ g(p + "attn.c_proj.weight") + g(p + "attn.c_proj.bias")
        m = npf["layernorm"](x, g(p + "ln_2.weight"), g(p + "ln_2.bias"), eps)
        h = npf["gelu_tanh"](m @ g(p + "mlp.c_fc.weight") + g(p + "mlp.c_fc.bias"))
        x = x + h @ g(p + "mlp.c_proj.weight") + g(p + "mlp.c_proj.bias")
        x = STEER(x, f"blocks.{L}.hook_resid_post")
    xf = npf["layernorm"](x, g("ln_f.weight"), g("ln_f.bias"), eps)
    return {"logits": xf @ g("wte.weight").T}

def load(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    if cfg.get("model_type") == "gpt2":
        w = {k: v.astype(np.float64) for k, v in npf["st_load"](os.path.join(d, "model.safetensors")).items()}
        return cfg, w, gpt2_forward
    cfg, w = npf["load_model"](d)
    return cfg, w, npf["forward"]

def fwd_resid0(cfg, w, ids):
    if cfg.get("model_type") == "gpt2":
        g = lambda k: w.get("transformer." + k, w.get(k))
        return g("wte.weight")[ids] + g("wpe.weight")[np.arange(len(ids))]
    return npf["forward"](cfg, w, np.array(ids))["blocks.0.hook_resid_pre"]

def greedy(cfg, w, fwd, prompt, n):
    ids = list(prompt); gaps = []
    for _ in range(n):
        lg = fwd(cfg, w, np.array(ids))["logits"][-1]
        top = np.sort(lg)[-2:]
        gaps.append(float(top[1] - top[0]))
        ids.append(int(np.argmax(lg)))
    return ids[len(prompt):], min(gaps)

def main():
    out = {}
    models = {"demo-gpt2-4l": "../../../demo/demo-gpt2-4l/model", "tiny-gpt2-random": "../../../testdata/golden/tiny-gpt2-random"}
    for name in sorted(os.listdir("testdata/families")):
        if os.path.exists(os.path.join("testdata/families", name, "reference.json")):
            models[name] = os.path.join("testdata/families", name)
    for name, d in sorted(models.items()):
        cfg, w, fwd = load(d)
        rng = np.random.default_rng(abs(hash(name)) % 1000 if False else sum(map(ord, name)))
        V = cfg["vocab_size"]; dm = cfg.get("hidden_size", cfg.get("n_embd")); nl = cfg.get("num_hidden_layers", cfg.get("n_layer"))
        prompt = [int(t) for t in rng.integers(3, V, 7)]
        cases = []
        def run(label, steers, method="SIMPLE_ADDITIVE"):
            STEERS.clear(); METHOD[0] = method
            for hk, v, c in steers:
                STEERS.setdefault(hk, []).append((np.asarray(v, np.float64), c))
            toks, gap = greedy(cfg, w, fwd, prompt, 12)
            STEERS.clear()
            cases.append({"label": label, "method": method, "steer": [{"hook": hk, "vector": [float(x) for x in v], "coeff": c} for hk, v, c in steers],
                          "tokens": toks, "min_top2_gap": gap})
            print(name, label, toks, "gap %.2g" % gap)
        # Coefficients in units of the prompt's residual norm at block 0, so steering matters in every family.
        x0 = fwd_resid0(cfg, w, prompt)
        k = float(np.linalg.norm(x0, axis=-1).mean()) / 4
        run("plain", [])
        v1 = (rng.normal(0, 1, dm) / math.sqrt(dm)).astype(np.float32)
        v2 = (rng.normal(0, 1, dm) / math.sqrt(dm)).astype(np.float32)
        run("additive-resid_pre", [(f"blocks.{nl - 1}.hook_resid_pre", v1, 6.0 * k)])
        run("additive-two", [("blocks.0.hook_resid_pre", v1, 4.0 * k), (f"blocks.{nl - 1}.hook_resid_post", v2, -5.0 * k)])
        run("orthogonal-resid_post", [("blocks.0.hook_resid_post", v2, 3.0)], "ORTHOGONAL_DECOMP")
        out[name] = {"dir": d, "prompt": prompt, "cases": cases}
    json.dump(out, open(sys.argv[2], "w"), indent=None, separators=(",", ":"))

main()
