#!/usr/bin/env bash
# Mixed-precision allocation and BoA vs uniform GPTQ on stories260K.
# 1. `sensitivity` on the calibration half of the TinyStories slice (GPTQ error
#    model, candidates int2/3/4 x g32/g64/g128 + int8-g128, block-output errors on
#    4096 tokens, per-layer perplexity deltas on 8 windows of the calibration text);
# 2. uniform GPTQ and uniform BoA (attention-aware GPTQ on q/k/v) at several formats;
# 3. `allocate` at budgets 2.5, 3.0 and at each uniform row's exact average bits
#    (same-bits comparisons), with the block-error cost (default) and, at two
#    budgets, the predicted-error and perplexity-delta costs; each recipe is run;
# 4. MG-PTQ (`allocate --method mgptq --group 32,64,128`: per layer a group size and
#    an MG-PTQ target by the knapsack over the levels MG-PTQ reaches on the layer,
#    block-error cost; then the GNN's per-group widths and GPTQ) at 2.5, 3.0 and at
#    the exact bits of the three cheapest uniform rows. (2.25 bits is below every
#    assignment: stories260K's 64-input layers cost at least 2.28 bits/weight.)
# Evaluation: the held-out half of the slice and WikiText-2 test, windows of 512.
# Writes bench/results/alloc_table.json and prints a Markdown table.
# Usage: bash bench/alloc_table.sh [BUILD_DIR] [MAX_WINDOWS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
MAXW="${2:-200}"
source bench/stories_split.sh
CAL=(--model "$MODEL" --calib "$TMP/calib.txt" --nsamples 32 --seqlen 256 --seed 0 --no-db)
EVAL=(--eval "$TMP/heldout.txt" --eval "$WIKI" --eval-seqlen 512 --max-windows "$MAXW" --json)
OUT=bench/results/alloc_table.json

echo "sensitivity..." >&2
"$CLI" sensitivity "${CAL[@]}" --eval "$TMP/calib.txt" --eval-seqlen 512 --max-windows 8 --out "$TMP/report.json" > /dev/null 2>&1
n=0
run() {  # label, then quantize arguments
  local label="$1"; shift
  echo "[$((n + 1))] $label" >&2
  "$CLI" quantize "${CAL[@]}" "${EVAL[@]}" "$@" > "$TMP/run$n.json" 2>/dev/null
  echo "$label" > "$TMP/label$n"
  n=$((n + 1))
}
uniform_bits=()
for f in int2-g64 int2-g32 int3-g64 int3-g32 int4-g32; do
  run "uniform $f GPTQ" --method gptq --wformat "$f"
  uniform_bits+=("$(python3 -c "import json; print(json.load(open('$TMP/run$((n - 1)).json'))['avg_bits'])")")
  run "uniform $f BoA" --method boa --wformat "$f"
done
alloc() {  # budget cost
  "$CLI" allocate --report "$TMP/report.json" --budget "$1" --cost "$2" --out "$TMP/recipe$n.json" > /dev/null
  run "mixed GPTQ ($2 cost) @ $(printf '%.4f' "$1")" --recipe "$TMP/recipe$n.json"
}
for b in 2.5 3.0 "${uniform_bits[@]}"; do alloc "$b" block; done
for b in 3.0 "${uniform_bits[3]}"; do alloc "$b" ppl; alloc "$b" predicted; done
alloc_mgptq() {  # budget
  "$CLI" allocate --report "$TMP/report.json" --budget "$1" --method mgptq --group 32,64,128 --out "$TMP/recipe$n.json" > /dev/null
  run "MG-PTQ (block cost) @ $(printf '%.4f' "$1")" --recipe "$TMP/recipe$n.json"
}
for b in 2.5 3.0 "${uniform_bits[@]:0:3}"; do alloc_mgptq "$b"; done
for e in heldout wiki; do
  data="$TMP/heldout.txt"; [ "$e" = wiki ] && data="$WIKI"
  "$CLI" eval --model "$MODEL" --data "$data" --seqlen 512 --max-windows "$MAXW" --json > "$TMP/fp_$e.json" 2>/dev/null
done
python3 - "$TMP" "$OUT" "$n" <<'PY'
import json, sys
tmp, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
fp = {e: json.load(open(f"{tmp}/fp_{e}.json")) for e in ("heldout", "wiki")}
rep = json.load(open(f"{tmp}/report.json"))
rows = []
for k in range(n):
    o = json.load(open(f"{tmp}/run{k}.json"))
    label = open(f"{tmp}/label{k}").read().strip()
    fmts, widths = {}, {}
    for l in o["layers"]:
        # MG-PTQ layers: their group size (the widths vary per group: counted apart)
        f = "mgptq-g" + l["format"].split("-g")[-1] if l["method"] == "mgptq" else l["format"]
        fmts[f] = fmts.get(f, 0) + 1
        for b, c in l.get("group_bits", {}).items():
            widths[b] = widths.get(b, 0) + c  # column groups (of a row; every row has the same widths)
    row = {"config": label, "avg_bits": o["avg_bits"], "formats": fmts,
           "ppl_tinystories_heldout": o["eval"][0]["ppl"], "ppl_wikitext2": o["eval"][1]["ppl"]}
    if widths:
        row["mgptq_group_widths"] = widths
    rows.append(row)
json.dump({"model": "stories260K",
           "calibration": "first half (by lines) of tinystories valid-slice.txt, 32 x 256 tokens, seed 0",
           "sensitivity": {"candidates": rep["options"]["candidates"], "method": rep["options"]["method"],
                           "block_error_tokens": rep["options"]["block_error_tokens"],
                           "ppl_deltas": "8 windows of 512 of the calibration half"},
           "eval": "second half of the slice (held out) and wikitext-2 test, windows of 512",
           "fp_ppl_tinystories_heldout": fp["heldout"]["ppl"], "fp_ppl_wikitext2": fp["wiki"]["ppl"], "rows": rows},
          open(out, "w"), indent=1)
h, w = fp["heldout"], fp["wiki"]
print(f"| configuration | avg bits | formats (layers) | TinyStories held-out ppl ({h['windows']} windows) | WikiText-2 ppl ({w['windows']} windows) |")
print("|---|---|---|---|---|")
print(f"| fp32 | 32 | - | {h['ppl']:.3f} | {w['ppl']:.3f} |")
for r in sorted(rows, key=lambda r: r["avg_bits"]):
    f = ", ".join(f"{k} x{v}" for k, v in sorted(r["formats"].items()))
    if "mgptq_group_widths" in r:
        f += " (column groups: " + ", ".join(f"{v} at {k} bits" for k, v in sorted(r["mgptq_group_widths"].items())) + ")"
    print(f"| {r['config']} | {r['avg_bits']:.4f} | {f} | {r['ppl_tinystories_heldout']:.3f} | {r['ppl_wikitext2']:.3f} |")
PY
