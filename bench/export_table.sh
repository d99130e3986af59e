#!/usr/bin/env bash
# GGUF export on stories260K: FP vs plain RTN vs GPTQ on llama.cpp's block grids
# (gguf_q8_0, gguf_q4_0, gguf_q4_1; AWQ+GPTQ on Q4_0), each run exported with
# `quantize --export-gguf` (the file is read back and compared tensor by tensor),
# then the .gguf evaluated on its own with `eval --model FILE.gguf` (its embedded
# tokenizer): the file's perplexity next to the run's.
# Calibration: the first half (by lines) of the TinyStories slice, 32 x 256 tokens,
# seed 0. Evaluation: the held-out second half and WikiText-2 test, windows of 512.
# Writes bench/results/export_table.json and prints a Markdown table.
# Usage: bash bench/export_table.sh [BUILD_DIR] [MAX_WINDOWS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
MAXW="${2:-200}"
source bench/stories_split.sh
CAL=(--model "$MODEL" --calib "$TMP/calib.txt" --nsamples 32 --seqlen 256 --seed 0 --no-db --device cpu)
EVAL=(--eval "$TMP/heldout.txt" --eval "$WIKI" --eval-seqlen 512 --max-windows "$MAXW" --json)
OUT=bench/results/export_table.json

n=0
run() {  # method format
  echo "[$((n + 1))] $1 $2" >&2
  "$CLI" quantize "${CAL[@]}" "${EVAL[@]}" --method "$1" --wformat "$2" --export-gguf "$TMP/m$n.gguf" > "$TMP/run$n.json" 2>/dev/null
  for e in heldout wiki; do
    data="$TMP/heldout.txt"; [ "$e" = wiki ] && data="$WIKI"
    "$CLI" eval --model "$TMP/m$n.gguf" --data "$data" --seqlen 512 --max-windows "$MAXW" --device cpu --json \
      > "$TMP/file${n}_$e.json" 2>/dev/null
  done
  stat -c %s "$TMP/m$n.gguf" > "$TMP/size$n"
  n=$((n + 1))
}
for f in gguf_q8_0 gguf_q4_1 gguf_q4_0; do
  run rtn "$f"
  run gptq "$f"
done
run awq+gptq gguf_q4_0
for e in heldout wiki; do
  data="$TMP/heldout.txt"; [ "$e" = wiki ] && data="$WIKI"
  "$CLI" eval --model "$MODEL" --data "$data" --seqlen 512 --max-windows "$MAXW" --device cpu --json > "$TMP/fp_$e.json" 2>/dev/null
done
python3 - "$TMP" "$OUT" "$n" <<'PY'
import json, sys
tmp, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
fp = {e: json.load(open(f"{tmp}/fp_{e}.json")) for e in ("heldout", "wiki")}
rows = []
for k in range(n):
    o = json.load(open(f"{tmp}/run{k}.json"))
    ex = o["export"]
    types = {}
    for t in ex["tensors"]:
        types[t["type"]] = types.get(t["type"], 0) + 1
    f = {e: json.load(open(f"{tmp}/file{k}_{e}.json")) for e in ("heldout", "wiki")}
    rows.append({"method": o["quantization"]["method"], "wformat": o["quantization"]["wformat"],
                 "avg_bits": o["avg_bits"], "gguf_bytes": int(open(f"{tmp}/size{k}").read()),
                 "gguf_file_type": ex["file_type"], "gguf_tensor_types": types,
                 "tensors_checked": ex["tensors_checked"], "tensors_identical": ex["tensors_identical"],
                 "ppl_tinystories_heldout": o["eval"][0]["ppl"], "ppl_wikitext2": o["eval"][1]["ppl"],
                 "file_ppl_tinystories_heldout": f["heldout"]["ppl"], "file_ppl_wikitext2": f["wiki"]["ppl"],
                 "export_check_ppl_equal": [e["ppl_equal"] for e in ex["eval"]]})
json.dump({"model": "stories260K",
           "calibration": "first half (by lines) of tinystories valid-slice.txt, 32 x 256 tokens, seed 0",
           "eval": "second half of the slice (held out) and wikitext-2 test, windows of 512",
           "note": "file_ppl_*: `quantscope-cli eval --model FILE.gguf` (QuantScope's GGUF reader, embedded tokenizer); "
                   "down_proj (172 inputs, not a multiple of 32) stays F16 in every GGUF row, as llama.cpp keeps it",
           "fp_ppl_tinystories_heldout": fp["heldout"]["ppl"], "fp_ppl_wikitext2": fp["wiki"]["ppl"], "rows": rows},
          open(out, "w"), indent=1)
h, w = fp["heldout"], fp["wiki"]
print(f"| method | weights | avg bits | GGUF tensors | GGUF bytes | TinyStories held-out ppl ({h['windows']} windows): run / .gguf | WikiText-2 ppl ({w['windows']} windows): run / .gguf |")
print("|---|---|---|---|---|---|---|")
print(f"| none (fp32) | - | 32 | - | - | {h['ppl']:.3f} | {w['ppl']:.3f} |")
for r in rows:
    t = ", ".join(f"{k} x{v}" for k, v in sorted(r["gguf_tensor_types"].items()))
    print(f"| {r['method']} | {r['wformat']} | {r['avg_bits']:.3f} | {t} | {r['gguf_bytes']} | "
          f"{r['ppl_tinystories_heldout']:.3f} / {r['file_ppl_tinystories_heldout']:.3f} | "
          f"{r['ppl_wikitext2']:.3f} / {r['file_ppl_wikitext2']:.3f} |")
PY
