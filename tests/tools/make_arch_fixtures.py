#!/usr/bin/env python3
"""Golden logits for tests/test_architectures.cpp, computed by HF transformers.

For every case this script
  1. builds a tiny HF config and the model (from_config, float32, eager attention),
  2. save_pretrained()s it to a temporary directory, only to learn the exact tensor
     names and stored shapes transformers writes (tied lm_head not saved, GPT-2
     Conv1D stored [in, out], no buffers),
  3. replaces EVERY saved tensor by deterministic values (the rule below, which the
     C++ test reproduces bit-exactly), rounded to the case's storage dtype,
  4. runs the model on 2 fixed windows of 12 tokens and writes the float32 logits to
     tests/fixtures/arch/<case>.json.

Value rule (all arithmetic in float32, integers mod 2^64):
  rng = SplitMix64(fnv1a64(name) ^ seed)   # state starts at that value
  next(): state += 0x9E3779B97F4A7C15; z = state
          z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
          z = (z ^ (z >> 27)) * 0x94D049BB133111EB
          return z ^ (z >> 31)
  u = float32(next() >> 40) * 2^-24 * 2 - 1          (exact: a multiple of 2^-23 in [-1, 1))
  values in storage order (row-major over the STORED shape):
    1-D, name ends with "weight":  1 + 0.25 * u
    other 1-D:                     float32(0.1) * u
    >= 2-D:                        u * (1 / sqrt(float32(shape[-1])))
  then rounded to the storage dtype (F32/F16/BF16, round-to-nearest-even) and back.

Usage (from the repository root):
  python3 tests/tools/make_arch_fixtures.py [--out tests/fixtures/arch] [--check]
--check recomputes everything and fails if a committed fixture differs.
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np
import torch
import transformers
from safetensors import safe_open
from transformers import (AutoModelForCausalLM, GPT2Config, LlamaConfig, MistralConfig, OPTConfig,
                          Qwen2Config)

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
SEQLEN = 12
BATCH = 2


def fnv1a64(s: str) -> int:
    h = 0xCBF29CE484222325
    for c in s.encode("utf-8"):
        h ^= c
        h = (h * 0x100000001B3) & M64
    return h


class SplitMix64:
    """Scalar reference implementation (used for the tokens and to self-check)."""

    def __init__(self, seed: int):
        self.state = seed & M64

    def next(self) -> int:
        self.state = (self.state + GOLDEN) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)


def splitmix_stream(seed: int, n: int) -> np.ndarray:
    """The first n outputs of SplitMix64(seed), vectorised: state_i = seed + (i+1)*GOLDEN."""
    i = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(seed & M64) + i * np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return z


def uniform_sym(z: np.ndarray) -> np.ndarray:
    u = (z >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216.0)
    return u * np.float32(2.0) - np.float32(1.0)


def tensor_values(name: str, shape, seed: int) -> np.ndarray:
    """float32 values of a stored tensor, in storage order, before dtype rounding."""
    n = int(np.prod(shape)) if len(shape) else 1
    u = uniform_sym(splitmix_stream(fnv1a64(name) ^ seed, n))
    if len(shape) == 1:
        if name.endswith("weight"):
            v = np.float32(1.0) + np.float32(0.25) * u
        else:
            v = np.float32(0.1) * u
    else:
        scale = np.float32(1.0) / np.sqrt(np.float32(shape[-1]))
        v = u * scale
    assert v.dtype == np.float32
    return v.reshape(shape)


TORCH_DTYPE = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
CONFIG_DTYPE = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}


def case_list():
    """(case, seed, dtype, config, rename) where rename maps a saved name to the
    name stored in the fixture's checkpoint (None: as transformers saves it)."""
    return [
        ("llama_f32_untied_headdim", 101, "F32",
         LlamaConfig(hidden_size=48, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=4, head_dim=16,  # != 48 / 4
                     vocab_size=96, max_position_embeddings=64, rms_norm_eps=1e-5,
                     tie_word_embeddings=False, bos_token_id=1, eos_token_id=2), None),
        ("llama_bf16_tied_gqa", 102, "BF16",
         LlamaConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, vocab_size=112, max_position_embeddings=64,
                     rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
                     tie_word_embeddings=True, bos_token_id=1, eos_token_id=2), None),
        ("mistral_f32_gqa", 103, "F32",
         MistralConfig(hidden_size=32, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=2, vocab_size=100, max_position_embeddings=64,
                       rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
                       tie_word_embeddings=False, bos_token_id=1, eos_token_id=2), None),
        ("qwen2_f16_bias_tied", 104, "F16",
         Qwen2Config(hidden_size=32, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, vocab_size=128, max_position_embeddings=64,
                     rope_parameters={"rope_type": "default", "rope_theta": 50000.0},
                     tie_word_embeddings=True, bos_token_id=0, eos_token_id=1), None),
        ("opt_f32", 105, "F32",
         OPTConfig(hidden_size=32, ffn_dim=80, num_hidden_layers=2, num_attention_heads=4, vocab_size=104,
                   max_position_embeddings=64, word_embed_proj_dim=32, bos_token_id=2, eos_token_id=2,
                   pad_token_id=1), None),
        ("opt_f16_proj", 106, "F16",
         OPTConfig(hidden_size=48, ffn_dim=80, num_hidden_layers=2, num_attention_heads=4, vocab_size=120,
                   max_position_embeddings=64, word_embed_proj_dim=32, bos_token_id=2, eos_token_id=2,
                   pad_token_id=1), None),
        ("gpt2_f32", 107, "F32",
         GPT2Config(n_embd=32, n_layer=2, n_head=4, n_inner=80, vocab_size=100, n_positions=64,
                    bos_token_id=99, eos_token_id=99), None),
        # n_inner null (-> 4 * n_embd) and names without the "transformer." prefix,
        # as in the original openai-community/gpt2 checkpoint.
        ("gpt2_f16_noprefix", 108, "F16",
         GPT2Config(n_embd=32, n_layer=2, n_head=4, n_inner=None, vocab_size=96, n_positions=64,
                    bos_token_id=95, eos_token_id=95),
         lambda n: n[len("transformer."):] if n.startswith("transformer.") else n),
    ]


def make_tokens(seed: int, vocab: int):
    rng = SplitMix64(fnv1a64("tokens") ^ seed)
    toks = [[int(rng.next() % vocab) for _ in range(SEQLEN)] for _ in range(BATCH)]
    toks[0][0] = 0            # both ends of the vocabulary appear
    toks[1][SEQLEN - 1] = vocab - 1
    return toks


def build_case(case, seed, dtype, cfg, rename):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager", dtype=torch.float32)
    model.eval()
    with tempfile.TemporaryDirectory() as d:
        model.save_pretrained(d, safe_serialization=True)
        files = sorted(f for f in os.listdir(d) if f.endswith(".safetensors"))
        assert files == ["model.safetensors"], files
        with safe_open(os.path.join(d, "model.safetensors"), "pt") as f:
            saved = [(k, list(f.get_slice(k).get_shape())) for k in f.keys()]
        with open(os.path.join(d, "config.json")) as f:
            config_json = json.load(f)
    saved.sort()
    config_json["dtype"] = CONFIG_DTYPE[dtype]  # as a checkpoint stored in this dtype says

    sd = model.state_dict()
    params = {n for n, _ in model.named_parameters()}  # tied parameters appear once
    tensors = []
    assigned = set()
    with torch.no_grad():
        for hf_name, shape in saved:
            name = rename(hf_name) if rename else hf_name
            v = torch.from_numpy(tensor_values(name, shape, seed).copy())
            v = v.to(TORCH_DTYPE[dtype]).to(torch.float32)  # RNE, like qs::convertFromFloat
            target = sd[hf_name]
            assert list(target.shape) == shape, (hf_name, target.shape, shape)
            target.copy_(v)
            assigned.add(hf_name)
            tensors.append({"name": name, "shape": shape})
    missing = params - assigned
    assert not missing, f"{case}: parameters not in the saved checkpoint: {sorted(missing)}"
    if cfg.tie_word_embeddings:
        assert torch.equal(model.get_output_embeddings().weight, model.get_input_embeddings().weight)

    vocab = cfg.vocab_size
    tokens = make_tokens(seed, vocab)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor(tokens, dtype=torch.long)).logits
    assert list(logits.shape) == [BATCH, SEQLEN, vocab]
    flat = logits.to(torch.float32).reshape(-1).tolist()
    verify_from_pretrained(case, dtype, config_json, tensors, seed, tokens, logits)
    return {
        "case": case,
        "seed": seed,
        "dtype": dtype,
        "config": config_json,
        "tensors": tensors,
        "tokens": tokens,
        "logits_shape": [BATCH * SEQLEN, vocab],
        "logits": [float(f"{x:.7g}") for x in flat],
    }


def verify_from_pretrained(case, dtype, config_json, tensors, seed, tokens, logits):
    """Independent check that config.json + the stored tensors alone give these logits:
    write the checkpoint exactly as the C++ test does (names, stored shapes, dtype),
    load it with from_pretrained and compare."""
    from safetensors.torch import save_file
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(config_json, f)
        save_file({t["name"]: torch.from_numpy(tensor_values(t["name"], t["shape"], seed).copy()).to(TORCH_DTYPE[dtype])
                   for t in tensors}, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
        m2 = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
        with torch.no_grad():
            l2 = m2(input_ids=torch.tensor(tokens, dtype=torch.long)).logits
    diff = (l2 - logits).abs().max().item()
    assert diff == 0.0, f"{case}: from_pretrained of the written checkpoint differs by {diff}"


def self_check():
    # the vectorised stream equals the scalar reference
    for seed in (0, 1, 0xDEADBEEF, M64):
        ref = SplitMix64(seed)
        assert [int(x) for x in splitmix_stream(seed, 5)] == [ref.next() for _ in range(5)]
    # SplitMix64(0) reference values (Vigna's splitmix64.c)
    assert SplitMix64(0).next() == 0xE220A8397B1DCDAF
    assert fnv1a64("") == 0xCBF29CE484222325 and fnv1a64("a") == 0xAF63DC4C8601EC8C


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "fixtures", "arch"))
    ap.add_argument("--check", action="store_true", help="compare with the existing fixtures instead of writing")
    args = ap.parse_args()
    self_check()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, numpy {np.__version__}")
    bad = 0
    for case, seed, dtype, cfg, rename in case_list():
        fx = build_case(case, seed, dtype, cfg, rename)
        path = os.path.join(args.out, case + ".json")
        text = json.dumps(fx, separators=(",", ":")) + "\n"
        if args.check:
            with open(path) as f:
                old = json.load(f)
            diff = max(abs(a - b) for a, b in zip(old["logits"], fx["logits"]))
            same = {k: v for k, v in old.items() if k != "logits"} == {k: v for k, v in fx.items() if k != "logits"}
            ok = same and diff <= 1e-5
            bad += not ok
            print(f"{case}: {'ok' if ok else 'DIFFERS'} (max |logit diff| {diff:.3g})")
        else:
            with open(path, "w") as f:
                f.write(text)
            print(f"{case}: {len(fx['tensors'])} tensors, logits {fx['logits_shape']}, {len(text)} bytes -> {path}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
