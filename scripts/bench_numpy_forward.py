#!/usr/bin/python3
"""numpy float32 (OpenBLAS) peer of `saex bench forward`: a random-weight model of a config's shape, truncated to
LAYERS layers, run on T tokens up to the last layer's hook_resid_post (the unembedding is replaced by a 1-row
matrix so that it costs nothing, as bench forward stops at the hook). The model code is np_families.py's numpy
transcription of transformers' modeling code. Prints wall and process CPU seconds per call (median of 3).

Usage: OPENBLAS_NUM_THREADS=2 bench_numpy_forward.py PATH/TO/np_families.py CONFIG LAYERS T
"""
import importlib.util, json, sys, time
import numpy as np

spec = importlib.util.spec_from_file_location("np_families", sys.argv[1])
nf = importlib.util.module_from_spec(spec); spec.loader.exec_module(nf)
cfg = json.load(open(sys.argv[2])); layers, T = int(sys.argv[3]), int(sys.argv[4])
cfg["num_hidden_layers"] = layers; cfg["tie_word_embeddings"] = True  # no lm_head; replaced below

class Float32Normals:  # make_weights draws float64 normals; float32 halves the memory of multi-GB embeddings
    def __init__(self): self.r = np.random.default_rng(0)
    def normal(self, mean, sd, shape): return self.r.standard_normal(shape, dtype=np.float32) * np.float32(sd)
    def integers(self, lo, hi, n): return self.r.integers(lo, hi, n)

rng = Float32Normals()
w = nf.make_weights(cfg, rng)
w["lm_head.weight" if cfg["model_type"] != "gpt_neox" else "embed_out.weight"] = np.zeros((1, cfg["hidden_size"]), np.float32)
ids = rng.integers(3, cfg["vocab_size"], T)
nf.forward(cfg, w, ids)  # warm-up
walls, cpus = [], []
for _ in range(3):
    t, c = time.perf_counter(), time.process_time()
    nf.forward(cfg, w, ids)
    walls.append(time.perf_counter() - t); cpus.append(time.process_time() - c)
print(json.dumps({"seconds_per_call": sorted(walls)[1], "cpu_seconds_per_call": sorted(cpus)[1]}))
