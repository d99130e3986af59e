# Sourced by bench/llamacpp_check.sh and bench/llamacpp_vs.sh (after `cd` to the
# repository root, with BUILD and LLAMA_TARGETS set): finds llama.cpp's sources
# (LLAMA_CPP_DIR, else the copy vendored in PyPI's llama-cpp-python sdist, fetched
# once into $BUILD/llamacpp-src with `pip download`), builds LLAMA_TARGETS
# (llama_window_ppl and/or llama.cpp's llama-imatrix, llama-quantize) in
# $BUILD/llamacpp-check = LLB, and sets LLAMA_COMMIT; defines token_ids (needs CLI,
# MODEL from bench/stories_split.sh). Reference tools only.
LLB="$BUILD/llamacpp-check"
if [ -z "${LLAMA_CPP_DIR:-}" ]; then
  SRC="$BUILD/llamacpp-src"
  if [ ! -f "$SRC/include/llama.h" ]; then
    mkdir -p "$BUILD/llamacpp-dl"
    python3 -m pip download --no-deps --no-binary :all: -d "$BUILD/llamacpp-dl" llama-cpp-python >&2
    tar xzf "$(ls "$BUILD"/llamacpp-dl/llama_cpp_python-*.tar.gz | head -1)" -C "$BUILD/llamacpp-dl"
    rm -rf "$SRC"
    mv "$(ls -d "$BUILD"/llamacpp-dl/llama_cpp_python-*/vendor/llama.cpp | head -1)" "$SRC"
  fi
  LLAMA_CPP_DIR="$(cd "$SRC" && pwd)"
fi
cmake -S bench/llamacpp -B "$LLB" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CPP_DIR="$LLAMA_CPP_DIR" >&2
# shellcheck disable=SC2086
cmake --build "$LLB" -j"$(nproc)" --target $LLAMA_TARGETS >&2
LLAMA_BIN="$LLB/bin"
LLAMA_COMMIT="$(git -C "$LLAMA_CPP_DIR" rev-parse HEAD 2>/dev/null || echo unknown)"

# QuantScope's token ids of a text file (its tokenizer, BOS as the model says),
# space-separated, for llama_window_ppl: token_ids TEXT OUT
token_ids() {
  "$CLI" tokenize --model "$MODEL" --data "$1" --json 2>/dev/null |
    python3 -c "import json,sys; print(' '.join(map(str, json.load(sys.stdin)['ids'])))" > "$2"
}
