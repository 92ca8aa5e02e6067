#!/usr/bin/python3
"""Interleaved, same-run comparison of `saex bench forward` with its numpy
float32 peer (forward_np.py, OpenBLAS) and with `saex bench gemm` on the same
matmul sizes: issue 13's performance acceptance (docs/performance.md, "Model
families: bench forward vs numpy").

    scripts/openblas/forward_compare.py [--rounds N] [--threads N] [--saex BIN] [--log FILE]

(from the repository root). Each round runs, shape by shape and back to
back: bench gemm on each distinct product of the forward pass (the stacked
QKV, the output projection, the stacked gate/up or the up projection, the
down projection; 16-bit B when the forward's weights are), bench forward,
and forward_np.py under every OpenBLAS core type in CORETYPES (the
environment's OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed; "native" is
OpenBLAS's own detection). Noise on a shared VM hits a round's runs alike,
so ratios are taken per round and their medians reported; numpy's figure is,
per round, its best core type.

Targets (issue 13): speed-up over numpy >= 2 (Gemma-2-2B), 1.3 (Llama-3.1-8B),
3 (Pythia-160M); forward GFLOP/s >= 60% of bench gemm's on the same products
(FLOP-weighted: the time the products alone would take at bench gemm's
rates); peak RSS <= 1.15 x (weight bytes + activations).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHAPES = os.path.join(ROOT, "internal", "compute", "transformer", "testdata", "shapes")
CASES = [  # (shape, layers, tokens, target speed-up)
    ("gemma-2-2b", 4, 128, 2.0),
    ("llama-3.1-8b", 2, 64, 1.3),
    ("pythia-160m", 12, 128, 3.0),
]
CORETYPES = ["native", "SkylakeX", "Haswell"]


def dims(cfg):
    d = cfg["hidden_size"]
    h = cfg["num_attention_heads"]
    kvh = cfg.get("num_key_value_heads", h)
    hd = cfg.get("head_dim") or d // h
    inner = cfg["intermediate_size"]
    gated = cfg["model_type"] != "gpt_neox"
    return d, h, kvh, hd, inner, gated


def products(cfg, t):
    """(m, k, n) of each product one block runs, as saex stacks them."""
    d, h, kvh, hd, inner, gated = dims(cfg)
    return [(t, d, (h + 2 * kvh) * hd), (t, h * hd, d), (t, d, (2 if gated else 1) * inner), (t, inner, d)]


def weight_bytes(cfg, layers, bf16):
    """Bytes of what bench forward builds: the embedding and the blocks'
    matrices (16-bit when bf16), norm gains and biases in float32."""
    d, h, kvh, hd, inner, gated = dims(cfg)
    mats = cfg["vocab_size"] * d + layers * sum(k * n for _, k, n in products(cfg, 1))
    vecs = layers * (6 * d + (h + 2 * kvh) * hd + inner)  # an upper bound on gains and biases
    return mats * (2 if bf16 else 4) + vecs * 4


def activation_bytes(cfg, t):
    """float32 working set of one forward: residual, normed input, QKV,
    attention output, the (gate/)up rows, the hidden rows, the scores."""
    d, h, kvh, hd, inner, gated = dims(cfg)
    per_token = 3 * d + (h + 2 * kvh) * hd + h * hd + (3 if gated else 2) * inner
    return 4 * (t * per_token + h * t * t)


def run_json(cmd, env=None):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"forward_compare: {' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def blas_env(coretype, threads):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    if coretype != "native":
        env["OPENBLAS_CORETYPE"] = coretype
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    return env


def baseline_rss(saex):
    """Peak RSS of saex doing next to nothing (a 1x64x64 bench gemm): the
    binary's own pages and runtime, which no model size changes."""
    p = subprocess.Popen([saex, "bench", "gemm", "--m", "1", "--k", "64", "--n", "64"], stdout=subprocess.DEVNULL)
    _, _, ru = os.wait4(p.pid, 0)
    return ru.ru_maxrss * 1024


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--saex", help="a built saex binary (default: go build ./cmd/server)")
    ap.add_argument("--log", default="/tmp/saex-forward-compare.jsonl", help="raw results, one JSON line per run")
    ap.add_argument("--calls", type=int, default=3, help="timed numpy calls per run (median)")
    ap.add_argument("--from-log", help="only summarize the runs recorded in this log")
    args = ap.parse_args()
    if args.from_log:
        res = {}
        rounds = 0
        base = 0
        for line in open(args.from_log):
            rec = json.loads(line)
            if rec["what"] == "baseline":
                base = rec["peak_rss_bytes"]
                continue
            row = res.setdefault((rec["shape"], rec["round"]), {"gemm": {}, "numpy": {}})
            rounds = max(rounds, rec["round"] + 1)
            if rec["what"] == "gemm":
                row["gemm"][tuple(rec["mkn"])] = rec
            elif rec["what"] == "forward":
                row["saex"] = rec
            else:
                row["numpy"][rec["coretype"]] = rec
        summarize(res, rounds, base)
        return
    saex = args.saex
    if not saex:
        saex = os.path.join(os.environ.get("TMPDIR", "/tmp"), "saex-forward-compare")
        subprocess.run(["go", "build", "-o", saex, "./cmd/server"], cwd=ROOT, check=True)
    model = "unknown"
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    th = str(args.threads)
    log = open(args.log, "w")

    def record(**kw):
        kw["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        kw["load"] = loadavg()
        log.write(json.dumps(kw) + "\n")
        log.flush()
        print(json.dumps(kw), file=sys.stderr)
        return kw

    print(f"# {model}, {args.threads} threads, {args.rounds} rounds, start {time.strftime('%FT%TZ', time.gmtime())}, load {loadavg()}")
    res = {}  # (shape, round) -> dict
    record(round=0, shape="-", what="baseline", peak_rss_bytes=baseline_rss(saex))
    for r in range(args.rounds):
        for shape, layers, t, _ in CASES:
            path = os.path.join(SHAPES, shape + ".json")
            cfg = json.load(open(path))
            bf16 = cfg.get("torch_dtype") in ("bfloat16", "float16")
            row = res.setdefault((shape, r), {"gemm": {}, "numpy": {}})
            for m, k, n in products(cfg, t):
                g = run_json([saex, "bench", "gemm", "--m", str(m), "--k", str(k), "--n", str(n),
                              "--dtype", "bf16" if bf16 else "f32", "--threads", th])
                row["gemm"][(m, k, n)] = record(round=r, shape=shape, what="gemm", mkn=[m, k, n], **g)
            hook = f"blocks.{layers - 1}.hook_resid_post"
            f = run_json([saex, "bench", "forward", "--config", path, "--tokens", str(t), "--hook", hook,
                          "--threads", th])
            row["saex"] = record(round=r, shape=shape, what="forward", **f)
            for ct in CORETYPES:
                np_ = run_json(["/usr/bin/python3", os.path.join(HERE, "forward_np.py"), path, str(layers), str(t),
                                str(args.calls)], env=blas_env(ct, args.threads))
                row["numpy"][ct] = record(round=r, shape=shape, what="numpy", coretype=ct, **np_)

    print(f"# end {time.strftime('%FT%TZ', time.gmtime())}, load {loadavg()}")
    with open(args.log) as f:
        base = next((json.loads(x)["peak_rss_bytes"] for x in f if '"baseline"' in x), 0)
    summarize(res, args.rounds, base)


def summarize(res, rounds, base=0):
    print("| shape (hook, tokens) | saex ms | numpy ms (its best core type) | speed-up (target) | saex GFLOP/s | "
          "bench gemm GFLOP/s, same products | % of gemm (>= 60) | peak RSS / (weights + act.) (<= 1.15) |")
    print("|---|---|---|---|---|---|---|---|")
    ok = True
    for shape, layers, t, target in CASES:
        cfg = json.load(open(os.path.join(SHAPES, shape + ".json")))
        bf16 = cfg.get("torch_dtype") in ("bfloat16", "float16")
        prods = products(cfg, t)
        speed, pct, saex_ms, np_ms, fl, eq, best_core = [], [], [], [], [], [], []
        cpu_speed, saex_cpu, np_cpu, fl_cpu, eq_cpu, pct_cpu = [], [], [], [], [], []
        rss = 0
        # numpy's best core type: the lowest median over the complete rounds
        # (wall time; CPU time for the CPU row), then paired with saex per round.
        done = [res[(shape, r)] for r in range(rounds) if "saex" in res.get((shape, r), {})]
        cores = set.intersection(*(set(row["numpy"]) for row in done)) if done else set()
        best = min(cores, key=lambda c: statistics.median(row["numpy"][c]["seconds_per_call"] for row in done), default=None)
        best_cpu = min(cores, key=lambda c: statistics.median(row["numpy"][c]["cpu_seconds_per_call"] for row in done),
                       default=None)
        for r in range(rounds):
            row = res.get((shape, r), {})
            if "saex" not in row or best not in row["numpy"] or len(row["gemm"]) < len(prods):
                continue  # an interrupted round
            s = row["saex"]["seconds_per_call"]
            core, npr = best, row["numpy"][best]
            best_core.append(f"{core}={npr['corename']}")
            # Time the products alone would take at bench gemm's rates.
            pflops = [2 * m * k * n for m, k, n in prods]
            gemm_eq = sum(pflops) / sum(p / (row["gemm"][mkn]["gflops"] * 1e9) for p, mkn in zip(pflops, prods)) / 1e9
            speed.append(npr["seconds_per_call"] / s)
            sc = row["saex"].get("cpu_seconds_per_call", 0)
            if sc:
                # numpy's least CPU time of its core types; GFLOP per CPU second for the % of gemm.
                npc = row["numpy"][best_cpu]["cpu_seconds_per_call"]
                saex_cpu.append(1e3 * sc)
                np_cpu.append(1e3 * npc)
                cpu_speed.append(npc / sc)
                fwd_flops = row["saex"]["gflops"] * s
                gemm_cpu_time = sum(p / 1e9 * row["gemm"][mkn]["cpu_seconds_per_call"] / row["gemm"][mkn]["seconds_per_call"]
                                    / row["gemm"][mkn]["gflops"] for p, mkn in zip(pflops, prods))
                fl_cpu.append(fwd_flops / sc)
                eq_cpu.append(sum(pflops) / 1e9 / gemm_cpu_time)
                pct_cpu.append(100 * fl_cpu[-1] / eq_cpu[-1])
            pct.append(100 * row["saex"]["gflops"] / gemm_eq)
            saex_ms.append(1e3 * s)
            np_ms.append(1e3 * npr["seconds_per_call"])
            fl.append(row["saex"]["gflops"])
            eq.append(gemm_eq)
            rss = max(rss, row["saex"]["peak_rss_bytes"])
        if not speed:
            print(f"| {shape} | no complete round |")
            continue
        budget = weight_bytes(cfg, layers, bf16) + activation_bytes(cfg, t)
        med = statistics.median
        rss_ratio = rss / budget
        ok = ok and med(speed) >= target and med(pct) >= 60 and rss_ratio <= 1.15
        print(f"| {shape} (blocks.{layers - 1}.hook_resid_post, {t}) | {med(saex_ms):.1f} | {med(np_ms):.1f} "
              f"({best_core[0]}) | {med(speed):.2f}x ({min(speed):.2f}-{max(speed):.2f}; "
              f">= {target}) | {med(fl):.1f} | {med(eq):.1f} | {med(pct):.0f}% ({min(pct):.0f}-{max(pct):.0f}) | "
              f"{rss / 2**20:.0f} MiB / ({weight_bytes(cfg, layers, bf16) / 2**20:.0f} + "
              f"{activation_bytes(cfg, t) / 2**20:.0f}) MiB = {rss_ratio:.2f}"
              + (f"; {(rss - base) / budget:.2f} without the binary's own {base / 2**20:.0f} MiB |" if base else " |"))
        if cpu_speed:
            print(f"|   same, CPU time per call (GFLOP per CPU-second) | {med(saex_cpu):.1f} | {med(np_cpu):.1f} ({best_cpu}) | "
                  f"{med(cpu_speed):.2f}x ({min(cpu_speed):.2f}-{max(cpu_speed):.2f}) | {med(fl_cpu):.1f} | "
                  f"{med(eq_cpu):.1f} | {med(pct_cpu):.0f}% ({min(pct_cpu):.0f}-{max(pct_cpu):.0f}) | |")
    print("# all targets met" if ok else "# some targets missed")


if __name__ == "__main__":
    main()
