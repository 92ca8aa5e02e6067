"""Chat-template goldens for chat_test.go: each tokenizer_config.json's
chat_template rendered by Python's Jinja2 as transformers'
apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
renders it (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks,
raise_exception).

Usage (from the repository root): python3 internal/inference/testdata/make_chat_golden.py > internal/inference/testdata/chat_golden.json
"""
import json, sys
from jinja2.sandbox import ImmutableSandboxedEnvironment

MESSAGES = [
    [{"role": "user", "content": "Write a one sentence story."}],
    [{"role": "user", "content": "Write a one sentence story."}, {"role": "assistant", "content": "Once upon a time."},
     {"role": "user", "content": "Another, about café ☕?"}],
]

def raise_exception(m):
    raise Exception(m)

env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
env.globals["raise_exception"] = raise_exception
out = {"messages": MESSAGES, "rendered": {}}
for name in ("gemma3", "llama3_1", "qwen3"):
    cfg = json.load(open(f"testdata/tokenizers/{name}/tokenizer_config.json"))
    tok = lambda k: cfg[k]["content"] if isinstance(cfg.get(k), dict) else (cfg.get(k) or "")
    t = env.from_string(cfg["chat_template"])
    out["rendered"][name] = [t.render(messages=m, add_generation_prompt=True, bos_token=tok("bos_token"), eos_token=tok("eos_token")) for m in MESSAGES]
json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
