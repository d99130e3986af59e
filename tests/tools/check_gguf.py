#!/usr/bin/env python3
"""An independent GGUF reader (numpy only), written from the GGUF spec (ggml
docs/gguf.md) and ggml's block layouts (ggml-common.h / dequantize_row_* in
ggml-quants.c), not from QuantScope's C++ code.

Usage: check_gguf.py DIR

DIR/manifest.json (written by tests/test_export) lists GGUF files and, for each
tensor, the fake-quantized weights QuantScope evaluated (float32, QuantScope's
row order: HF "rotate-half" q/k rows) in a raw dump. For every file this script

  * parses the header (magic, version 3, counts), every metadata KV (all value
    types, arrays) and the tensor infos;
  * checks general.alignment, that the data section and every tensor offset are
    aligned, that tensors lie inside the file without overlapping, and the
    llama metadata (architecture, block count, head counts, embedding and
    feed-forward lengths, vocabulary size == token count);
  * dequantizes F32, F16, Q8_0, Q4_0, Q4_1 and MXFP4 blocks as ggml does;
  * permutes the dumped q/k weights as llama.cpp's convert_hf_to_gguf.py does
    (reshape(n_head, 2, hd/2, in).swapaxes(1, 2)) and compares every tensor with
    the file bit for bit (MXFP4: equal as floats, ggml has no -0).

Exit 0 when everything matches, 1 on a mismatch, 77 (CTest: skipped) when numpy
or the dumps are missing.
"""
import json
import os
import struct
import sys

import manifest_cases  # the shared driver, next to this script

try:
    import numpy as np
except ImportError:
    print("check_gguf: numpy is not installed (Debian: apt-get install python3-numpy); skipped")
    sys.exit(77)

GGUF_MAGIC = b"GGUF"
# value types of the spec
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY = 8, 9
# ggml types: name, elements per block, bytes per block
TYPES = {0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 8: ("Q8_0", 32, 34),
         30: ("BF16", 1, 2), 39: ("MXFP4", 32, 17)}


class Parser:
    def __init__(self, buf):
        self.b = buf
        self.o = 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.o)[0]
        self.o += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = self.b[self.o:self.o + n]
        if len(s) != n:
            raise ValueError("truncated string")
        self.o += n
        return s.decode("utf-8")

    def value(self, t):
        if t in SCALARS:
            return self.take(SCALARS[t])
        if t == STRING:
            return self.string()
        if t == ARRAY:
            et = self.take("<I")
            n = self.take("<Q")
            return [self.value(et) for _ in range(n)]
        raise ValueError(f"unknown value type {t}")


def read_gguf(path):
    buf = open(path, "rb").read()
    p = Parser(buf)
    assert buf[:4] == GGUF_MAGIC, "magic"
    p.o = 4
    version = p.take("<I")
    assert version == 3, f"version {version}"
    n_tensors = p.take("<Q")
    n_kv = p.take("<Q")
    kv = {}
    for _ in range(n_kv):
        key = p.string()
        t = p.take("<I")
        assert key not in kv, f"duplicate key {key}"
        kv[key] = p.value(t)
    infos = []
    for _ in range(n_tensors):
        name = p.string()
        nd = p.take("<I")
        ne = [p.take("<Q") for _ in range(nd)]
        t = p.take("<I")
        off = p.take("<Q")
        infos.append((name, ne, t, off))
    align = kv.get("general.alignment", 32)
    data_start = (p.o + align - 1) // align * align
    assert all(b == 0 for b in buf[p.o:data_start]), "header padding is not zero"
    tensors = {}
    spans = []
    for name, ne, t, off in infos:
        assert t in TYPES, f"{name}: unexpected ggml type {t}"
        tname, be, bb = TYPES[t]
        numel = int(np.prod(ne))
        assert ne[0] % be == 0, f"{name}: row {ne[0]} not a multiple of the block size {be}"
        nbytes = numel // be * bb
        assert off % align == 0, f"{name}: offset {off} not aligned to {align}"
        start = data_start + off
        assert start + nbytes <= len(buf), f"{name}: past the end of the file"
        spans.append((off, off + nbytes, name))
        tensors[name] = (tname, ne, np.frombuffer(buf, dtype=np.uint8, count=nbytes, offset=start))
    spans.sort()
    for (a0, a1, an), (b0, b1, bn) in zip(spans, spans[1:]):
        assert a1 <= b0, f"tensors {an} and {bn} overlap"
    return kv, tensors


def f16(u8):  # little-endian IEEE half -> float32 (exact)
    return u8.copy().view("<f2").astype(np.float32)


def dequantize(tname, ne, raw):
    n = int(np.prod(ne))
    if tname == "F32":
        out = raw.view("<f4").copy()
    elif tname == "F16":
        out = f16(raw)
    elif tname == "BF16":
        out = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)
    else:
        nb = n // 32
        if tname == "Q8_0":
            b = raw.reshape(nb, 34)
            d = f16(b[:, 0:2]).reshape(nb, 1)
            q = b[:, 2:].view(np.int8).astype(np.float32)
            out = q * d  # one float32 product per weight, as ggml
        elif tname in ("Q4_0", "Q4_1"):
            hdr = 2 if tname == "Q4_0" else 4
            b = raw.reshape(nb, hdr + 16)
            d = f16(b[:, 0:2]).reshape(nb, 1)
            qs = b[:, hdr:]
            q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int32)  # element j | j + 16
            if tname == "Q4_0":
                out = (q - 8).astype(np.float32) * d
            else:
                m = f16(b[:, 2:4]).reshape(nb, 1)
                out = q.astype(np.float32) * d + m  # numpy: product rounded, then the sum (no FMA)
        elif tname == "MXFP4":
            b = raw.reshape(nb, 17)
            e = b[:, 0].astype(np.int32)
            qs = b[:, 1:]
            q = np.concatenate([qs & 0x0F, qs >> 4], axis=1)
            kv = np.array([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12], dtype=np.float32)
            scale = np.ldexp(np.float32(1.0), e - 128).astype(np.float32).reshape(nb, 1)  # E8M0 / 2
            out = kv[q] * scale
        else:
            raise ValueError(tname)
        out = out.astype(np.float32).reshape(-1)
    return out.reshape(list(reversed(ne)))


def permute(w, n_head, n_head_kv):  # llama.cpp convert_hf_to_gguf.py LlamaModel.permute
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def check_case(d, case):
    path = os.path.join(d, case["gguf"])
    kv, tensors = read_gguf(path)
    problems = []

    def expect(key, value):
        if kv.get(key) != value:
            problems.append(f"{key} = {kv.get(key)!r}, expected {value!r}")

    expect("general.architecture", "llama")
    expect("general.alignment", 32)
    expect("llama.block_count", case["n_layer"])
    expect("llama.attention.head_count", case["n_head"])
    expect("llama.attention.head_count_kv", case["n_head_kv"])
    expect("llama.embedding_length", case["n_embd"])
    expect("llama.feed_forward_length", case["n_ff"])
    expect("llama.vocab_size", case["n_vocab"])
    for k in ("llama.context_length", "llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon",
              "tokenizer.ggml.model", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"):
        if k not in kv:
            problems.append(f"metadata {k} is missing")
    toks = kv.get("tokenizer.ggml.tokens", [])
    if len(toks) != case["n_vocab"]:
        problems.append(f"{len(toks)} tokens for a vocabulary of {case['n_vocab']}")
    if len(kv.get("tokenizer.ggml.token_type", [])) != len(toks):
        problems.append("token_type does not have one entry per token")
    weights = np.fromfile(os.path.join(d, case["weights"]), dtype="<f4")
    listed = set()
    counts = {}
    for t in case["tensors"]:
        name = t["gguf_name"]
        listed.add(name)
        if name not in tensors:
            problems.append(f"{name}: not in the file")
            continue
        tname, ne, raw = tensors[name]
        if tname != t["type"]:
            problems.append(f"{name}: type {tname}, expected {t['type']}")
            continue
        rows, cols = t["shape"]
        ref = weights[t["offset"]:t["offset"] + rows * cols].reshape(rows, cols)
        if t.get("permute") == "q":
            ref = permute(ref, case["n_head"], case["n_head"])
        elif t.get("permute") == "k":
            ref = permute(ref, case["n_head"], case["n_head_kv"])
        got = dequantize(tname, ne, raw).reshape(rows, cols)
        if tname == "MXFP4":
            same = np.array_equal(got, ref)  # ggml decodes a -0 code to +0
        else:
            same = np.array_equal(got.view(np.uint32), ref.view(np.uint32))
        if not same:
            bad = np.argwhere(got.view(np.uint32) != ref.view(np.uint32))[0]
            problems.append(f"{name} ({t['source']}, {t['format']} -> {tname}): element {tuple(bad)} is "
                            f"{got[tuple(bad)]!r}, QuantScope evaluated {ref[tuple(bad)]!r}")
        counts[tname] = counts.get(tname, 0) + 1
    for name in tensors:
        if name not in listed:
            problems.append(f"{name}: in the file but not expected")
    return problems, counts


def main():
    def one(d, case):
        problems, counts = check_case(d, case)
        return problems, f"{case['gguf']}: {{status}}; tensors by type: {dict(sorted(counts.items()))}"
    return manifest_cases.run("check_gguf", __doc__, "files", one)


if __name__ == "__main__":
    sys.exit(main())
