#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus (small valid inputs) into tests/fuzz/seeds/.

safetensors/: files written by the reference `safetensors` package (F32/F16/BF16/I64,
  scalar and empty tensors, __metadata__, several tensors).
tokenizer/:  tiny tokenizer.json files written by the reference `tokenizers` package:
  byte-level BPE (GPT-2/Qwen2 style) and SentencePiece-style BPE (metaspace, byte
  fallback, Llama style), plus one with added special tokens.
Usage: python3 tests/fuzz/make_seeds.py
"""
import os

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
ST = os.path.join(HERE, "seeds", "safetensors")
TK = os.path.join(HERE, "seeds", "tokenizer")
os.makedirs(ST, exist_ok=True)
os.makedirs(TK, exist_ok=True)

g = torch.Generator().manual_seed(0)
save_file({"w": torch.randn(2, 3, generator=g)}, os.path.join(ST, "f32_one.safetensors"))
save_file({"model.layers.0.q_proj.weight": torch.randn(4, 4, generator=g).half(),
           "model.layers.0.q_proj.bias": torch.randn(4, generator=g).half(),
           "model.norm.weight": torch.ones(4, dtype=torch.bfloat16)},
          os.path.join(ST, "mixed.safetensors"), metadata={"format": "pt"})
save_file({"scalar": torch.tensor(3.5), "empty": torch.zeros(0, 3), "ids": torch.arange(5, dtype=torch.int64),
           "mask": torch.tensor([True, False])}, os.path.join(ST, "edge.safetensors"))
with open(os.path.join(ST, "empty_header.safetensors"), "wb") as f:
    f.write((2).to_bytes(8, "little") + b"{}")

TEXT = ["The quick brown fox jumps over the lazy dog. " * 3,
        "Hello world! It's 2024, numbers 12345 and symbols #$%.",
        "caf\u00e9 na\u00efve \u00fcber \u2581 emoji \U0001F600 tabs\tand\nnewlines",
        "def f(x):\n    return x * 2  # code"]


def byte_level():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.train_from_iterator(TEXT, trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                       special_tokens=["<|endoftext|>"]))
    tok.save(os.path.join(TK, "bytelevel.json"), pretty=False)


def sentencepiece_style(special):
    """Llama-2 layout: <unk> <s> </s>, then <0x00>..<0xFF> in the model vocab, then pieces."""
    import json
    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.train_from_iterator(TEXT, trainers.BpeTrainer(vocab_size=120, special_tokens=["<unk>", "<s>", "</s>"]))
    j = json.loads(tok.to_str())
    old = sorted(j["model"]["vocab"].items(), key=lambda kv: kv[1])
    vocab = {k: i for i, (k, _) in enumerate(old[:3])}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for k, _ in old[3:]:
        vocab[k] = len(vocab)
    j["model"]["vocab"] = vocab
    j["post_processor"] = None
    if special:
        n = len(vocab)
        for i, t in enumerate(["<|im_start|>", "<|im_end|>"]):
            j["added_tokens"].append({"id": n + i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                                      "normalized": False, "special": True})
        j["post_processor"] = json.loads(processors.TemplateProcessing(
            single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)]).__getstate__())
    text = json.dumps(j, ensure_ascii=False, separators=(",", ":"))
    t2 = Tokenizer.from_str(text)  # the reference library accepts it
    assert t2.decode(t2.encode("caf\u00e9 \U0001F600 quick").ids) == "caf\u00e9 \U0001F600 quick"
    with open(os.path.join(TK, "sentencepiece_special.json" if special else "sentencepiece.json"), "w") as f:
        f.write(text)


byte_level()
sentencepiece_style(False)
sentencepiece_style(True)
for d in (ST, TK):
    for n in sorted(os.listdir(d)):
        print(os.path.join(os.path.relpath(d, HERE), n), os.path.getsize(os.path.join(d, n)))
