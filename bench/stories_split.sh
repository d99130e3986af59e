# Sourced by the stories260K table scripts (bench/quant_table.sh, bench/alloc_table.sh)
# after `cd` to the repository root, with BUILD set. Defines CLI, MODEL, WIKI, TMP
# (removed on exit) and writes $TMP/calib.txt (the first half, by lines, of the
# TinyStories slice) and $TMP/heldout.txt (the second half).
SHARED="../shared"
CLI="$BUILD/app/quantscope-cli"
MODEL="$SHARED/models/stories260K/stories260K.bin"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
SLICE="$SHARED/data/tinystories/valid-slice.txt"
HALF=$(( $(wc -l < "$SLICE") / 2 ))
head -n "$HALF" "$SLICE" > "$TMP/calib.txt"
tail -n +"$((HALF + 1))" "$SLICE" > "$TMP/heldout.txt"
WIKI="$SHARED/data/wikitext-2-raw/test.jsonl"
