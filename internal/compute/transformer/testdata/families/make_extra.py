#!/usr/bin/python3
"""More family checkpoints with float64 references, beyond the shared fixtures: other seeds, the transformers-5
rope_parameters config form, linear RoPE scaling, sequential GPT-NeoX with the old checkpoint buffers, tied Llama,
BF16 and F16 weights, a sharded checkpoint. The model code is np_families.py (the numpy transcription of transformers'
modeling code that made the shared fixtures); this script only adds cases to it.

Usage: make_extra.py PATH/TO/np_families.py OUT_DIR      (OUT_DIR: this directory)
"""
import importlib.util, json, os, sys
import numpy as np

spec = importlib.util.spec_from_file_location("np_families", sys.argv[1])
nf = importlib.util.module_from_spec(spec); spec.loader.exec_module(nf)

nf.CASES["extra"] = [
    ("llama-linear-ropeparams-tied", 21, nf.base_cfg("llama", architectures=["LlamaForCausalLM"], num_key_value_heads=1, intermediate_size=96,
        rms_norm_eps=1e-6, rope_parameters={"rope_type": "linear", "factor": 4.0, "rope_theta": 500.0}, tie_word_embeddings=True, hidden_act="silu"),
        {}, (17, 33)),
    ("llama3-ropeparams-bf16-sharded", 22, nf.base_cfg("llama", architectures=["LlamaForCausalLM"], num_key_value_heads=2, intermediate_size=128,
        rms_norm_eps=1e-5, rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0,
        "high_freq_factor": 4.0, "original_max_position_embeddings": 64}, tie_word_embeddings=False, hidden_act="silu", torch_dtype="bfloat16"),
        {"bf16": True, "shards": 3}, (30,)),
    ("pythia-sequential-buffers", 23, nf.base_cfg("gpt_neox", architectures=["GPTNeoXForCausalLM"], intermediate_size=192, layer_norm_eps=1e-5,
        rotary_pct=0.5, rotary_emb_base=10000, use_parallel_residual=False, hidden_act="gelu", tie_word_embeddings=False, bos_token_id=0, eos_token_id=0),
        {"neox_buffers": True}, (21,)),
    ("qwen2-bias-bf16", 24, nf.base_cfg("qwen2", architectures=["Qwen2ForCausalLM"], num_key_value_heads=4, intermediate_size=96, rms_norm_eps=1e-6,
        rope_theta=10000.0, tie_word_embeddings=False, hidden_act="silu", attention_bias=True, torch_dtype="bfloat16"), {"bf16": True}, (19,)),
    ("gemma2-window4-nocap", 25, nf.base_cfg("gemma2", architectures=["Gemma2ForCausalLM"], num_hidden_layers=2, num_key_value_heads=1, head_dim=16,
        intermediate_size=128, rms_norm_eps=1e-6, rope_theta=10000.0, query_pre_attn_scalar=20, attn_logit_softcapping=None,
        final_logit_softcapping=None, sliding_window=4, hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True, bos_token_id=2, eos_token_id=1),
        {}, (13,)),
]

if __name__ == "__main__":
    nf.make(sys.argv[2], "extra")
