#!/usr/bin/env bash
# Perplexity of stories260K quantized with RTN and GPTQ at 4/3/2 bits (integer,
# asymmetric, per output channel) and with MX formats, calibrated on TinyStories
# and evaluated on WikiText-2 test. Writes bench/results/quant_table.json and
# prints a Markdown table.
# Usage: bash bench/quant_table.sh [BUILD_DIR] [MAX_WINDOWS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
MAXW="${2:-200}"
SHARED="../shared"
CLI="$BUILD/app/quantscope-cli"
MODEL="$SHARED/models/stories260K/stories260K.bin"
COMMON=(--model "$MODEL" --calib "$SHARED/data/tinystories/valid-slice.txt" --nsamples 32 --seqlen 256 --seed 0
        --eval "$SHARED/data/wikitext-2-raw/test.jsonl" --eval-seqlen 512 --max-windows "$MAXW" --json)
OUT=bench/results/quant_table.json
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
i=0
for cfg in "rtn --wbits 4" "gptq --wbits 4" "rtn --wbits 3" "gptq --wbits 3" "rtn --wbits 2" "gptq --wbits 2" \
           "rtn --wformat mxint4" "gptq --wformat mxint4" "rtn --wformat mxfp4" "gptq --wformat mxfp4"; do
  read -r -a extra <<< "--method $cfg"
  "$CLI" quantize "${COMMON[@]}" "${extra[@]}" > "$TMP/$i.json" 2>/dev/null
  i=$((i+1))
done
"$CLI" eval --model "$MODEL" --data "$SHARED/data/wikitext-2-raw/test.jsonl" --seqlen 512 --max-windows "$MAXW" --json > "$TMP/fp.json" 2>/dev/null
python3 - "$TMP" "$OUT" "$i" <<'PY'
import json, sys
tmp, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
fp = json.load(open(f"{tmp}/fp.json"))
rows = []
for k in range(n):
    o = json.load(open(f"{tmp}/{k}.json"))
    e = o["eval"][0]
    rows.append({"method": o["quantization"]["method"], "format": o["quantization"]["wformat"],
                 "avg_bits": o["avg_bits"], "ppl": e["ppl"], "windows": e["windows"],
                 "seconds": o["timings"]["total_seconds"]})
json.dump({"model": "stories260K", "eval": "wikitext-2 test", "fp_ppl": fp["ppl"], "windows": fp["windows"],
           "calibration": "tinystories valid-slice, 32 x 256 tokens, seed 0", "rows": rows}, open(out, "w"), indent=1)
print(f"| method | weight format | avg bits | WikiText-2 ppl ({fp['windows']} windows of 512) |")
print("|---|---|---|---|")
print(f"| none (fp32) | - | 32 | {fp['ppl']:.3f} |")
for r in rows:
    print(f"| {r['method']} | {r['format']} | {r['avg_bits']:.3f} | {r['ppl']:.3f} |")
PY
