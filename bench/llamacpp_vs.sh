#!/usr/bin/env bash
# QuantScope against llama.cpp's own quantization, in llama.cpp's own file format
# and evaluated by llama.cpp itself. stories260K: QuantScope exports an F32 GGUF,
# llama.cpp computes its importance matrix (llama-imatrix, on the same calibration
# text: the TinyStories half, and the C4 sample) and quantizes it with llama-quantize to Q4_0 / Q4_1 (plain and with the
# imatrix; embeddings and output kept F32 as QuantScope keeps them; ffn_down,
# 172 inputs, falls back to F16 in both tools). QuantScope quantizes onto the
# same grids with RTN, GPTQ and AWQ+GPTQ (`--wformat gguf_q4_0|gguf_q4_1
# --export-gguf`). Every file is then evaluated by llama.cpp
# (bench/llamacpp/llama_window_ppl.cpp) on the same token ids and windows:
# held-out TinyStories and WikiText-2 test, windows of 256. Also reports whether
# llama.cpp's plain RTN and QuantScope's RTN wrote identical tensor bytes
# (llama.cpp's gguf-py reader, needs numpy), and the wall time of each tool's
# quantization (process start to file written; this model is tiny, so the times
# say little about large models).
# Writes bench/results/llamacpp_vs.json and prints a Markdown table.
# Usage: bash bench/llamacpp_vs.sh [BUILD_DIR] [MAX_WINDOWS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
MAXW="${2:-40}"
source bench/stories_split.sh
LLAMA_TARGETS="llama_window_ppl llama-imatrix llama-quantize"
source bench/llamacpp_build.sh
NT="$(nproc)"
now() { date +%s.%N; }

# the texts as QuantScope reads them (CR removed; .jsonl rows joined with a blank line)
tr -d '\r' < "$TMP/calib.txt" > "$TMP/calib_text.txt"
tr -d '\r' < "$TMP/heldout.txt" > "$TMP/heldout_text.txt"
python3 -c 'import json,sys; print("\n\n".join(json.loads(l)["text"] for l in open(sys.argv[1]) if l.strip()).replace("\r", ""), end="")' "$WIKI" > "$TMP/wiki_text.txt"
for e in heldout wiki; do token_ids "$TMP/${e}_text.txt" "$TMP/${e}_ids.txt"; done
C4="$SHARED/data/c4/c4_sample_200docs.jsonl"
python3 -c 'import json,sys; print("\n\n".join(json.loads(l)["text"] for l in open(sys.argv[1]) if l.strip()).replace("\r", ""), end="")' "$C4" > "$TMP/c4_text.txt"
BASE=(--model "$MODEL" --nsamples 32 --seqlen 256 --seed 0 --no-db --device cpu --threads "$NT")
"$CLI" quantize "${BASE[@]}" --calib "$TMP/calib_text.txt" --method none --export-gguf "$TMP/f32.gguf" > /dev/null 2>&1

rows="$TMP/rows.jsonl"
: > "$rows"
evaluate() {  # tool method type calibration seconds file
  local h w
  h=$("$LLB/llama_window_ppl" "$6" "$TMP/heldout_ids.txt" "$TMP/heldout_text.txt" 256 "$MAXW" 2>/dev/null)
  w=$("$LLB/llama_window_ppl" "$6" "$TMP/wiki_ids.txt" "$TMP/wiki_text.txt" 256 "$MAXW" 2>/dev/null)
  python3 -c 'import json,sys; h,w=json.loads(sys.argv[6]),json.loads(sys.argv[7]); print(json.dumps({"tool":sys.argv[1],"method":sys.argv[2],"type":sys.argv[3],"calibration":sys.argv[4],"seconds":float(sys.argv[5]),"ppl_heldout":h["ppl"],"ppl_wikitext2":w["ppl"],"windows":[h["windows"],w["windows"]],"same_token_ids":[h["same_token_ids"],w["same_token_ids"]]}))' \
    "$1" "$2" "$3" "$4" "$5" "$h" "$w" >> "$rows"
}
llama_quantize() {  # type imatrix-file|"" out
  local args=(--output-tensor-type f32 --token-embedding-type f32)
  [ -n "$2" ] && args+=(--imatrix "$2")
  "$LLAMA_BIN/llama-quantize" "${args[@]}" "$TMP/f32.gguf" "$3" "$1" "$NT" > "$TMP/quantize.log" 2>&1 ||
    { cat "$TMP/quantize.log" >&2; exit 1; }
}

# calibration-free: llama.cpp's plain rounding and QuantScope's RTN
for T in Q4_0 Q4_1; do
  f="gguf_$(echo "$T" | tr 'A-Z' 'a-z')"
  echo "llama.cpp plain $T" >&2
  t0=$(now); llama_quantize "$T" "" "$TMP/llama_plain_$T.gguf"; s=$(python3 -c "print($(now) - $t0)")
  evaluate llama.cpp plain "$T" - "$s" "$TMP/llama_plain_$T.gguf"
  echo "QuantScope rtn $f" >&2
  t0=$(now)
  "$CLI" quantize "${BASE[@]}" --calib "$TMP/calib_text.txt" --method rtn --wformat "$f" --export-gguf "$TMP/qs_rtn_$T.gguf" > /dev/null 2>&1
  s=$(python3 -c "print($(now) - $t0)")
  evaluate QuantScope rtn "$T" - "$s" "$TMP/qs_rtn_$T.gguf"
done
# calibrated, on the TinyStories half and on the C4 sample: 32 x 256 tokens each
# (QuantScope: 32 windows drawn with seed 0; llama-imatrix: its first 32 chunks of 256)
for C in tinystories c4; do
  text="$TMP/calib_text.txt"
  [ "$C" = c4 ] && text="$TMP/c4_text.txt"
  t0=$(now)
  "$LLAMA_BIN/llama-imatrix" -m "$TMP/f32.gguf" -f "$text" -c 256 --chunks 32 -t "$NT" -o "$TMP/imatrix_$C.gguf" > "$TMP/imatrix.log" 2>&1 ||
    { cat "$TMP/imatrix.log" >&2; exit 1; }
  t_imatrix=$(python3 -c "print($(now) - $t0)")
  for T in Q4_0 Q4_1; do
    f="gguf_$(echo "$T" | tr 'A-Z' 'a-z')"
    echo "llama.cpp imatrix $T ($C)" >&2
    t0=$(now); llama_quantize "$T" "$TMP/imatrix_$C.gguf" "$TMP/llama_imatrix_${C}_$T.gguf"
    s=$(python3 -c "print($(now) - $t0 + $t_imatrix)")
    evaluate llama.cpp imatrix "$T" "$C" "$s" "$TMP/llama_imatrix_${C}_$T.gguf"
    for m in gptq awq+gptq; do
      echo "QuantScope $m $f ($C)" >&2
      t0=$(now)
      "$CLI" quantize "${BASE[@]}" --calib "$text" --method "$m" --wformat "$f" --export-gguf "$TMP/qs_${m}_${C}_$T.gguf" > /dev/null 2>&1
      s=$(python3 -c "print($(now) - $t0)")
      evaluate QuantScope "$m" "$T" "$C" "$s" "$TMP/qs_${m}_${C}_$T.gguf"
    done
  done
done
evaluate "-" "float" F32 - 0 "$TMP/f32.gguf"

python3 - "$TMP" "$rows" bench/results/llamacpp_vs.json "$LLAMA_COMMIT" "$MAXW" "$LLAMA_CPP_DIR/gguf-py" <<'PY'
import json, sys
tmp, rows_path, out, commit, maxw, ggufpy = sys.argv[1:7]
rows = [json.loads(l) for l in open(rows_path)]
same = {}
try:
    sys.path.insert(0, ggufpy)
    import gguf
    for T in ("Q4_0", "Q4_1"):
        a = {t.name: t.data.tobytes() for t in gguf.GGUFReader(f"{tmp}/llama_plain_{T}.gguf").tensors}
        b = {t.name: t.data.tobytes() for t in gguf.GGUFReader(f"{tmp}/qs_rtn_{T}.gguf").tensors}
        same[T] = {"tensors": len(a), "identical": sum(1 for n in a if n in b and a[n] == b[n]), "same_names": sorted(a) == sorted(b)}
except Exception as e:  # numpy or gguf-py missing
    same = {"error": str(e)}
json.dump({"llama_cpp": commit, "model": "stories260K.bin",
           "calibration": {"tinystories": "first half (by lines) of tinystories valid-slice.txt", "c4": "c4_sample_200docs.jsonl rows joined with a blank line", "tokens": "QuantScope 32 windows of 256 drawn with seed 0; llama-imatrix its first 32 chunks of 256"},
           "eval": "llama.cpp (llama_window_ppl) on QuantScope's token ids, windows of 256", "max_windows": int(maxw),
           "rtn_identical_to_llama_quantize": same, "rows": rows}, open(out, "w"), indent=2)
print("| tool | method | type | calibration | held-out TinyStories ppl | WikiText-2 ppl | wall s |")
print("|---|---|---|---|---|---|---|")
for r in sorted(rows, key=lambda r: (r["type"], r["calibration"], r["tool"])):
    print(f"| {r['tool']} | {r['method']} | {r['type']} | {r['calibration']} | {r['ppl_heldout']:.4f} | {r['ppl_wikitext2']:.4f} | {r['seconds']:.2f} |")
print("RTN vs llama-quantize (no imatrix):", json.dumps(same))
PY
