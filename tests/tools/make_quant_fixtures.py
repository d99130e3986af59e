#!/usr/bin/env python3
"""Golden values for tests/test_quant_reference.cpp: QuantScope's quantization
pipeline (core/quant/pipeline.cpp) on the real stories260K model, re-implemented
independently with Hugging Face transformers' LlamaForCausalLM (float32) and the
GPTQ reference port of make_gptq_fixtures.py (GPTQ.add_batch / fasterquant and
Quantizer, H and error propagation in float64, rounding in float32).

Protocol (as the GPTQ repository's llama.py with --true-sequential, no act-order):
  * calibration text: data/tinystories/valid-slice.txt (UTF-8, CRLF -> LF),
    ids = [1] + run.c encode (make_tokenizer_fixtures.runc_encode_chunked);
    nsamples windows of seqlen tokens, rng = SplitMix64(seed ^ 0x63616c6962),
    start = rng.next() % (len(ids) - seqlen), window = ids[start:start+seqlen];
  * blocks in order; inside a block the sequential groups {q,k,v}, {o},
    {gate,up}, {down}: the whole model is run on all calibration windows (so the
    block's inputs are the outputs of the earlier, already-quantized blocks, and
    the earlier groups of this block are already quantized), forward pre-hooks on
    q_proj / o_proj / gate_proj / down_proj capture the group's inputs, H =
    add_batch over all windows (each window counts as one sample), k/v share q's
    H and up shares gate's; the linears are quantized (RTN or GPTQ: per-channel
    asymmetric int grid, percdamp 0.01, blocksize 128, no act-order) and their
    weights replaced. Embeddings, norms and lm_head (tied) stay float32.
  * evaluation: GPTQ perplexity protocol (make_real_model_fixtures.perplexity) on
    WikiText-2 raw test (rows joined by "\\n\\n"), seqlen 512, first 100 windows.

Per config the fixture holds ppl and, per quantized linear, sha256 of the
quantized weight as little-endian float32 row-major bytes, sum and sum of squares
(float64), a few exact entries, and the GPTQ loss (GPTQ configs).

Usage (from the repository root):
    python3 tests/tools/make_quant_fixtures.py [SHARED_DIR]
Writes tests/fixtures/quant/stories260K.json.
"""
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_gptq_fixtures import GPTQ, Quantizer, SplitMix64, quantize  # noqa: E402
from make_real_model_fixtures import load_text, perplexity  # noqa: E402
from make_tokenizer_fixtures import load_llama2c, runc_encode_chunked  # noqa: E402

SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared")
OUT = os.path.join(HERE, "..", "fixtures", "quant", "stories260K.json")

CALIB_FILE = "data/tinystories/valid-slice.txt"
EVAL_FILE = "data/wikitext-2-raw/test.jsonl"
NSAMPLES, CALIB_SEQLEN, SEED = 32, 256, 0
EVAL_SEQLEN, EVAL_WINDOWS = 512, 100
PERCDAMP, BLOCKSIZE = 0.01, 128
GROUPS = [["q_proj", "k_proj", "v_proj"], ["o_proj"], ["gate_proj", "up_proj"], ["down_proj"]]
ENTRIES = [(0, 0), (1, 2), (3, 5), (7, 11), (-1, -1)]


def sample_calibration(ids, nsamples, seqlen, seed):
    rng = SplitMix64(seed ^ 0x63616C6962)
    starts = len(ids) - seqlen
    return [ids[s:s + seqlen] for s in (rng.next() % starts for _ in range(nsamples))]


def linear(layer, name):
    return getattr(layer.self_attn if name in ("q_proj", "k_proj", "v_proj", "o_proj") else layer.mlp, name)


def rtn(W, bits):
    qz = Quantizer()
    qz.configure(bits, perchannel=True, sym=False)
    qz.find_params(W.float(), weight=True)
    return quantize(W.float(), qz.scale, qz.zero, qz.maxq)


@torch.no_grad()
def quantize_model(model, calib, method, bits):
    """Returns {linear name: (quantized float32 weight, gptq loss or None)}."""
    x = torch.tensor(calib)  # [nsamples, seqlen]
    out = {}
    for bi, layer in enumerate(model.model.layers):
        for group in GROUPS:
            owner = group[0]
            mod = linear(layer, owner)
            captured = []
            h = mod.register_forward_pre_hook(lambda m, inp: captured.append(inp[0].detach().clone()))
            model(x)  # earlier blocks and groups already quantized
            h.remove()
            assert len(captured) == 1
            inp = captured[0]  # [nsamples, seqlen, in]
            H = None
            if method == "gptq":
                g = GPTQ(mod.weight.detach().double())
                g.add_batch(inp)  # one batch of all windows: N = nsamples
                H = g.H
            for name in group:
                lin = linear(layer, name)
                W = lin.weight.detach().clone()
                loss = None
                if method == "rtn":
                    Q = rtn(W, bits)
                else:
                    g = GPTQ(W.double())
                    g.H = H.clone()
                    g.nsamples = len(calib)
                    g.quantizer = Quantizer()
                    g.quantizer.configure(bits, perchannel=True, sym=False)
                    Q, loss = g.fasterquant(blocksize=BLOCKSIZE, percdamp=PERCDAMP)
                    Q = Q.float()
                lin.weight.data.copy_(Q)
                out["model.layers.%d.%s.%s" % (bi, "self_attn" if name.endswith(("q_proj", "k_proj", "v_proj", "o_proj")) else "mlp", name)] = (Q.clone(), loss)
    return out


def weight_summary(Q, loss):
    a = Q.numpy().astype("<f4")
    d = a.astype(np.float64)
    r = {"shape": list(a.shape),
         "sha256": hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest(),
         "sum": float(d.sum()), "sumsq": float((d * d).sum()),
         "entries": [[int(i % a.shape[0]), int(j % a.shape[1]), float(a[i, j])] for i, j in ENTRIES]}
    if loss is not None:
        r["gptq_loss"] = loss
    return r


def main():
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    pieces, scores, lookup = load_llama2c(os.path.join(SHARED, "models/stories260K/tok512.bin"))
    ctext = load_text(os.path.join(SHARED, CALIB_FILE))
    cids = [1] + runc_encode_chunked(ctext, pieces, scores, lookup)
    calib = sample_calibration(cids, NSAMPLES, CALIB_SEQLEN, SEED)
    etext = load_text(os.path.join(SHARED, EVAL_FILE))
    eids = [1] + runc_encode_chunked(etext, pieces, scores, lookup)

    def load():
        m = transformers.AutoModelForCausalLM.from_pretrained(
            os.path.join(SHARED, "models/stories260K-hf"), dtype=torch.float32, attn_implementation="eager")
        m.eval()
        return m

    model = load()
    fp_ppl, n, _ = perplexity(model, eids, EVAL_SEQLEN, EVAL_WINDOWS)
    print("fp ppl %.6f (%d windows)" % (fp_ppl, n), file=sys.stderr)
    res = {"_note": "produced by tests/tools/make_quant_fixtures.py with transformers %s, torch %s, numpy %s"
                    % (transformers.__version__, torch.__version__, np.__version__),
           "calibration": {"file": CALIB_FILE, "tokens": len(cids), "nsamples": NSAMPLES, "seqlen": CALIB_SEQLEN,
                           "seed": SEED, "window_starts_first": None, "first_window_first_ids": calib[0][:16]},
           "eval": {"file": EVAL_FILE, "tokens": len(eids), "seqlen": EVAL_SEQLEN, "max_windows": EVAL_WINDOWS,
                    "windows": n},
           "gptq": {"percdamp": PERCDAMP, "blocksize": BLOCKSIZE, "act_order": False, "sym": False,
                    "group_size": 0},
           "fp_ppl": fp_ppl, "configs": []}
    # the first few window starts (a check of the SplitMix64 draw)
    rng = SplitMix64(SEED ^ 0x63616C6962)
    res["calibration"]["window_starts_first"] = [rng.next() % (len(cids) - CALIB_SEQLEN) for _ in range(4)]
    for method in ("rtn", "gptq"):
        for bits in (4, 3, 2):
            t0 = time.time()
            model = load()
            layers = quantize_model(model, calib, method, bits)
            ppl, n2, _ = perplexity(model, eids, EVAL_SEQLEN, EVAL_WINDOWS)
            assert n2 == n
            print("%s int%d ppl %.6f (%.1fs)" % (method, bits, ppl, time.time() - t0), file=sys.stderr)
            res["configs"].append({"method": method, "format": "int%d" % bits, "ppl": ppl,
                                   "layers": {k: weight_summary(q, l) for k, (q, l) in layers.items()}})
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
