#!/usr/bin/env bash
# Perplexity of stories260K quantized with RTN, GPTQ, AWQ, AWQ+GPTQ and
# SmoothQuant at several weight formats (and W8A8 / W4A8 activation settings).
# Calibration: the first half (by lines) of the TinyStories slice; evaluation: the
# other half (held out, text like the model's training data) and WikiText-2 test.
# Writes bench/results/quant_table.json and prints a Markdown table.
# Usage: bash bench/quant_table.sh [BUILD_DIR] [MAX_WINDOWS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
MAXW="${2:-200}"
source bench/stories_split.sh
COMMON=(--model "$MODEL" --calib "$TMP/calib.txt" --nsamples 32 --seqlen 256 --seed 0 --no-db
        --eval "$TMP/heldout.txt" --eval "$WIKI" --eval-seqlen 512 --max-windows "$MAXW" --json)
OUT=bench/results/quant_table.json
configs=()
for fmt in "--wbits 4" "--wbits 3" "--wbits 2" "--wbits 3 --group 32" "--wformat mxint4" "--wformat mxfp4"; do
  for m in rtn gptq awq awq+gptq; do configs+=("$m $fmt"); done
done
configs+=("rtn --wbits 8 --aformat int8" "smoothquant+rtn --wbits 8 --aformat int8"
          "gptq --wformat mxint4 --aformat mxint8" "smoothquant+gptq --wformat mxint4 --aformat mxint8"
          "smoothquant+awq+gptq --wformat mxint4 --aformat mxint8")
i=0
for cfg in "${configs[@]}"; do
  read -r -a extra <<< "--method $cfg"
  echo "[$((i + 1))/${#configs[@]}] $cfg" >&2
  "$CLI" quantize "${COMMON[@]}" "${extra[@]}" > "$TMP/$i.json" 2>/dev/null
  i=$((i+1))
done
for e in heldout wiki; do
  data="$TMP/heldout.txt"; [ "$e" = wiki ] && data="$WIKI"
  "$CLI" eval --model "$MODEL" --data "$data" --seqlen 512 --max-windows "$MAXW" --json > "$TMP/fp_$e.json" 2>/dev/null
done
python3 - "$TMP" "$OUT" "$i" <<'PY'
import json, sys
tmp, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
fp = {e: json.load(open(f"{tmp}/fp_{e}.json")) for e in ("heldout", "wiki")}
rows = []
for k in range(n):
    o = json.load(open(f"{tmp}/{k}.json"))
    q = o["quantization"]
    rows.append({"method": q["method"], "wformat": q["wformat"], "aformat": q["aformat"], "avg_bits": o["avg_bits"],
                 "ppl_tinystories_heldout": o["eval"][0]["ppl"], "windows_tinystories_heldout": o["eval"][0]["windows"],
                 "ppl_wikitext2": o["eval"][1]["ppl"], "windows_wikitext2": o["eval"][1]["windows"],
                 "seconds": o["timings"]["total_seconds"]})
json.dump({"model": "stories260K", "calibration": "first half (by lines) of tinystories valid-slice.txt, 32 x 256 tokens, seed 0",
           "eval": "second half of the slice (held out) and wikitext-2 test, windows of 512",
           "fp_ppl_tinystories_heldout": fp["heldout"]["ppl"], "fp_ppl_wikitext2": fp["wiki"]["ppl"],
           "rows": rows}, open(out, "w"), indent=1)
h, w = fp["heldout"], fp["wiki"]
print(f"| method | weights | activations | avg bits | TinyStories held-out ppl ({h['windows']} windows) | WikiText-2 ppl ({w['windows']} windows) |")
print("|---|---|---|---|---|---|")
print(f"| none (fp32) | - | - | 32 | {h['ppl']:.3f} | {w['ppl']:.3f} |")
for r in rows:
    print(f"| {r['method']} | {r['wformat']} | {r['aformat']} | {r['avg_bits']:.3f} | {r['ppl_tinystories_heldout']:.3f} | {r['ppl_wikitext2']:.3f} |")
PY
