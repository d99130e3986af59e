#!/usr/bin/env bash
# Does llama.cpp load and run what QuantScope exports, and to the same perplexity?
# stories260K (the llama2.c .bin, and the HF copy with tok512.bin) quantized with
# `quantize --export-gguf` (F32, RTN Q8_0, RTN Q4_1, GPTQ Q4_0, GPTQ MXFP4), each .gguf then
# loaded by llama.cpp itself (libllama built from its sources) and evaluated by
# bench/llamacpp/llama_window_ppl.cpp on the same token ids and windows as
# QuantScope's eval (held-out TinyStories, windows of 256, CR removed as
# QuantScope's text reader does). Also checks that llama.cpp's tokenizer, read from
# the GGUF, gives QuantScope's token ids.
# llama.cpp's sources: LLAMA_CPP_DIR, else the copy vendored in PyPI's
# llama-cpp-python sdist (pip download; a reference tool, not a QuantScope dependency).
# Writes bench/results/llamacpp_check.json and prints a Markdown table.
# Usage: bash bench/llamacpp_check.sh [BUILD_DIR] [MAX_WINDOWS]   (~15 min on 2 cores, mostly building llama.cpp)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
MAXW="${2:-40}"
source bench/stories_split.sh
LLAMA_TARGETS="llama_window_ppl"
source bench/llamacpp_build.sh

tr -d '\r' < "$TMP/heldout.txt" > "$TMP/text.txt"
token_ids "$TMP/text.txt" "$TMP/ids.txt"
HF="$SHARED/models/stories260K-hf"
TOK="$SHARED/models/stories260K/tok512.bin"
rows=()
n=0
run() {  # label model-args... -- what quantize-args...
  local label="$1"; shift
  local args=()
  while [ "$1" != -- ]; do args+=("$1"); shift; done
  shift
  local what="$1"; shift
  echo "[$((n + 1))] $label: $what" >&2
  "$CLI" quantize "${args[@]}" --calib "$TMP/calib.txt" --nsamples 32 --seqlen 256 --seed 0 --no-db --device cpu \
    "$@" --export-gguf "$TMP/m$n.gguf" \
    --eval "$TMP/text.txt" --eval-seqlen 256 --max-windows "$MAXW" --json > "$TMP/run$n.json" 2>/dev/null
  "$LLB/llama_window_ppl" "$TMP/m$n.gguf" "$TMP/ids.txt" "$TMP/text.txt" 256 "$MAXW" > "$TMP/llama$n.json" 2>"$TMP/llama$n.err"
  echo "$label" > "$TMP/label$n"
  echo "$what" > "$TMP/method$n"
  n=$((n + 1))
}
# MXFP4: down_proj (172 inputs) stays fp16, as GGUF has no partial MXFP4 block
echo '{"quantscope_recipe": 1, "defaults": {"method": "gptq", "wformat": "mxfp4"}, "layers": [{"match": "*down_proj", "wformat": "fp16"}]}' \
  > "$TMP/mxfp4.json"
run "stories260K.bin" --model "$MODEL" -- "none (float)" --method none
run "stories260K.bin" --model "$MODEL" -- "rtn gguf_q8_0" --method rtn --wformat gguf_q8_0
run "stories260K.bin" --model "$MODEL" -- "rtn gguf_q4_1" --method rtn --wformat gguf_q4_1
run "stories260K.bin" --model "$MODEL" -- "gptq gguf_q4_0" --method gptq --wformat gguf_q4_0
run "stories260K.bin" --model "$MODEL" -- "gptq mxfp4 (down_proj fp16)" --recipe "$TMP/mxfp4.json"
run "stories260K-hf + tok512.bin" --model "$HF" --tokenizer "$TOK" -- "gptq gguf_q4_0" --method gptq --wformat gguf_q4_0
python3 - "$TMP" bench/results/llamacpp_check.json "$n" "$LLAMA_COMMIT" "$MAXW" <<'PY'
import json, sys
tmp, out, n, commit, maxw = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
rows = []
for k in range(n):
    o = json.load(open(f"{tmp}/run{k}.json"))
    l = json.load(open(f"{tmp}/llama{k}.json"))
    ex = o["export"]
    q = o["eval"][0]
    rows.append({"model": open(f"{tmp}/label{k}").read().strip(), "file_type": ex.get("file_type"),
                 "method": open(f"{tmp}/method{k}").read().strip(), "quantscope_ppl": q["ppl"], "llamacpp_ppl": l["ppl"],
                 "rel_diff": l["ppl"] / q["ppl"] - 1, "windows": l["windows"], "quantscope_windows": q["windows"],
                 "tensors_identical": ex["tensors_identical"], "tensors_checked": ex["tensors_checked"],
                 "llamacpp_tokenizer_same_ids": l["same_token_ids"]})
json.dump({"llama_cpp": commit, "eval": "held-out TinyStories (second half of valid-slice.txt, CR removed), windows of 256",
           "max_windows": maxw, "rows": rows}, open(out, "w"), indent=2)
print("| model | method, format | GGUF file type | QuantScope ppl | llama.cpp ppl | llama.cpp / QuantScope - 1 | llama.cpp tokenizer = QuantScope ids |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['model']} | {r['method']} | {r['file_type']} | {r['quantscope_ppl']:.4f} | {r['llamacpp_ppl']:.4f} | {r['rel_diff']:+.2e} | {'yes' if r['llamacpp_tokenizer_same_ids'] else 'no'} |")
PY
