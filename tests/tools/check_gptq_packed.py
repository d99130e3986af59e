#!/usr/bin/env python3
"""An independent reader of GPTQ-packed safetensors (numpy only), written from
the layout AutoGPTQ/GPTQModel document and vLLM/transformers load (quant_method
"gptq", checkpoint_format "gptq"), not from QuantScope's C++ code.

Usage: check_gptq_packed.py DIR

DIR/manifest.json (written by tests/test_export) lists checkpoints (directories)
and the weights QuantScope evaluated for every linear (float32 raw dump). For each
checkpoint this script parses model.safetensors (8-byte header length + JSON
header + data), reads config.json's quantization_config and quantize_config.json,
and for every linear unpacks

  * qweight int32 [in*bits/32, out]: along the input dimension the words of one
    column form a little-endian bit stream, input i at bits [i*bits, i*bits+bits)
    (this is AutoGPTQ's pack() for 2/4/8 bits and, for 3 bits, its 3-words-per-32
    layout: the same dense stream);
  * qzeros int32 [groups, out*bits/32] the same way along the output dimension,
    storing zero - 1 ("v1");
  * scales float16 [groups, out], g_idx int32 [in];

dequantizes W[o, i] = fp16(scale[g, o] * (q[i, o] - (z[g, o] + 1))) with
g = g_idx[i] (float16 arithmetic: the exact product rounded once) and compares
with the dump bit for bit. Also checks bits/group_size/sym/desc_act against the
manifest, the dtypes and shapes, g_idx (i // group_size without desc_act).

Exit 0 when everything matches, 1 on a mismatch, 77 (CTest: skipped) without
numpy or dumps.
"""
import json
import os
import struct
import sys

import manifest_cases  # the shared driver, next to this script

try:
    import numpy as np
except ImportError:
    print("check_gptq_packed: numpy is not installed (Debian: apt-get install python3-numpy); skipped")
    sys.exit(77)

DTYPES = {"I32": np.dtype("<i4"), "F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "BF16": np.dtype("<u2")}


def read_safetensors(path):
    buf = open(path, "rb").read()
    n = struct.unpack_from("<Q", buf, 0)[0]
    header = json.loads(buf[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        dt = DTYPES[e["dtype"]]
        arr = np.frombuffer(buf, dtype=dt, count=(b - a) // dt.itemsize, offset=base + a).reshape(e["shape"])
        out[name] = (e["dtype"], arr)
    return out


def unpack_stream(words, bits, n):
    """words: uint32 [k, ...] along axis 0 -> n values of `bits` bits along axis 0."""
    w = words.astype(np.uint64)
    out = np.zeros((n,) + words.shape[1:], dtype=np.int64)
    for i in range(n):
        pos = i * bits
        k, off = divmod(pos, 32)
        v = w[k] >> np.uint64(off)
        if off + bits > 32:  # the value continues in the next word
            v = v | (w[k + 1] << np.uint64(32 - off))
        out[i] = (v & np.uint64((1 << bits) - 1)).astype(np.int64)
    return out


def check_case(d, case):
    ck = os.path.join(d, case["dir"])
    cfg = json.load(open(os.path.join(ck, "config.json")))
    q = cfg["quantization_config"]
    qc = json.load(open(os.path.join(ck, "quantize_config.json")))
    problems = []
    for k in ("bits", "group_size", "sym", "desc_act"):
        if q.get(k) != case[k] or qc.get(k) != case[k]:
            problems.append(f"quantization_config.{k} = {q.get(k)!r} / quantize_config {qc.get(k)!r}, expected {case[k]!r}")
    if q.get("quant_method") != "gptq" or q.get("checkpoint_format", "gptq") != "gptq":
        problems.append("quant_method / checkpoint_format are not gptq")
    bits, gs = case["bits"], case["group_size"]
    t = read_safetensors(os.path.join(ck, "model.safetensors"))
    weights = np.fromfile(os.path.join(d, case["weights"]), dtype="<f4")
    for lin in case["linears"]:
        name = lin["name"]
        out, inn = lin["shape"]
        ref = weights[lin["offset"]:lin["offset"] + out * inn].reshape(out, inn)
        try:
            dq, qweight = t[name + ".qweight"]
            dz, qzeros = t[name + ".qzeros"]
            ds, scales = t[name + ".scales"]
            dg, g_idx = t[name + ".g_idx"]
        except KeyError as e:
            problems.append(f"{name}: missing {e}")
            continue
        groups = 1 if gs == -1 else -(-inn // gs)
        for what, dt, want, got in (("qweight", dq, "I32", qweight.shape), ("qzeros", dz, "I32", qzeros.shape),
                                    ("scales", ds, "F16", scales.shape), ("g_idx", dg, "I32", g_idx.shape)):
            if dt != want:
                problems.append(f"{name}.{what}: dtype {dt}, expected {want}")
        shapes = {"qweight": (inn * bits // 32, out), "qzeros": (groups, out * bits // 32), "scales": (groups, out), "g_idx": (inn,)}
        actual = {"qweight": qweight.shape, "qzeros": qzeros.shape, "scales": scales.shape, "g_idx": g_idx.shape}
        bad = [f"{k} {actual[k]} != {v}" for k, v in shapes.items() if tuple(actual[k]) != v]
        if bad:
            problems.append(f"{name}: shapes {bad}")
            continue
        if not case["desc_act"] and gs != -1 and not np.array_equal(g_idx, np.arange(inn) // gs):
            problems.append(f"{name}: g_idx is not i // group_size without desc_act")
        if g_idx.min() < 0 or g_idx.max() >= groups:
            problems.append(f"{name}: g_idx out of range")
            continue
        codes = unpack_stream(qweight.view(np.uint32), bits, inn)            # [in, out]
        zeros = unpack_stream(qzeros.view(np.uint32).T, bits, out).T + 1     # [groups, out], v1: stored minus one
        if case["sym"] and not np.all(zeros == 1 << (bits - 1)):
            problems.append(f"{name}: a symmetric checkpoint with zero points other than 2^(bits-1)")
        g = g_idx.astype(np.int64)
        diff = (codes - zeros[g]).astype(np.float32)                         # [in, out], exact integers
        prod = scales[g].astype(np.float32) * diff                           # exact in float32 (11 x 9 bits)
        w = prod.astype(np.float16).astype(np.float32).T                    # rounded once to fp16, [out, in]
        if not np.array_equal(w.view(np.uint32), ref.view(np.uint32)):
            idx = tuple(np.argwhere(w.view(np.uint32) != ref.view(np.uint32))[0])
            problems.append(f"{name}: element {idx} dequantizes to {w[idx]!r}, QuantScope evaluated {ref[idx]!r}")
    return problems


def main():
    def one(d, case):
        return check_case(d, case), (f"{case['dir']}: {{status}} ({case['bits']} bits, group {case['group_size']}, "
                                     f"{'sym' if case['sym'] else 'asym'}{', desc_act' if case['desc_act'] else ''}, "
                                     f"{len(case['linears'])} linears)")
    return manifest_cases.run("check_gptq_packed", __doc__, "checkpoints", one)


if __name__ == "__main__":
    sys.exit(main())
