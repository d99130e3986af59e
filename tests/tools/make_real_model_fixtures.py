"""Golden values for QuantScope's real-model test (tests/test_real_model.cpp).

Independent implementations: tokenization by make_tokenizer_fixtures.py's port of
llama2.c's run.c encode(), the forward pass and loss by Hugging Face transformers'
LlamaForCausalLM on ../shared/models/stories260K-hf, in float32.
Perplexity protocol (GPTQ): tokenize the whole text once (BOS first), cut into
non-overlapping windows of seqlen tokens (remainder dropped), window loss = mean
cross-entropy over its seqlen-1 targets, ppl = exp(mean window loss).

Usage: python3 tests/tools/make_real_model_fixtures.py [SHARED_DIR]
Writes tests/fixtures/real/stories260K.json.
"""
import json
import math
import os
import sys

import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_tokenizer_fixtures import load_llama2c, runc_encode_chunked  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared")
OUT = os.path.join(HERE, "..", "fixtures", "real", "stories260K.json")


def load_text(path):
    if path.endswith(".jsonl"):
        rows = [json.loads(line)["text"] for line in open(path, encoding="utf-8") if line.strip()]
        return "\n\n".join(rows)
    return open(path, "rb").read().decode("utf-8").replace("\r\n", "\n")


def checksum(ids):
    m = (1 << 61) - 1
    return sum((i + 1) * t for i, t in enumerate(ids)) % m


@torch.no_grad()
def perplexity(model, ids, seqlen, max_windows=None):
    n = len(ids) // seqlen
    if max_windows:
        n = min(n, max_windows)
    losses = []
    for w in range(n):
        x = torch.tensor([ids[w * seqlen:(w + 1) * seqlen]])
        logits = model(x).logits[0].double()
        lp = torch.log_softmax(logits[:-1], dim=-1)
        tgt = x[0, 1:]
        losses.append(float(-lp[torch.arange(seqlen - 1), tgt].mean()))
    return math.exp(sum(losses) / n), n, losses


def main():
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    pieces, scores, lookup = load_llama2c(os.path.join(SHARED, "models/stories260K/tok512.bin"))
    model = transformers.AutoModelForCausalLM.from_pretrained(
        os.path.join(SHARED, "models/stories260K-hf"), dtype=torch.float32, attn_implementation="eager")
    model.eval()
    out = {"_note": "produced by tests/tools/make_real_model_fixtures.py with transformers %s, torch %s"
                    % (transformers.__version__, torch.__version__),
           "model_seqlen_default": 512, "datasets": {}}
    for key, rel in [("tinystories", "data/tinystories/valid-slice.txt"),
                     ("wikitext2_test", "data/wikitext-2-raw/test.jsonl")]:
        text = load_text(os.path.join(SHARED, rel))
        ids = [1] + runc_encode_chunked(text, pieces, scores, lookup)  # BOS, as run.c
        entry = {"file": rel, "bytes": len(text.encode("utf-8")), "tokens": len(ids),
                 "first_ids": ids[:64], "checksum": checksum(ids), "runs": []}
        for seqlen, maxw in [(512, None), (128, 8)]:
            ppl, n, losses = perplexity(model, ids, seqlen, maxw)
            entry["runs"].append({"seqlen": seqlen, "max_windows": maxw or 0, "windows": n, "ppl": ppl,
                                  "first_window_losses": losses[:4]})
            print(key, seqlen, maxw, n, ppl, file=sys.stderr)
        out["datasets"][key] = entry
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
