#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into build-fuzz/ and runs each for N seconds.
#   tests/fuzz/run.sh [seconds-per-target=60] [target ...]
# Targets: fuzz_safetensors, fuzz_tokenizer_json (the latter only once
# core/model/tokenizer_bpe.cpp exists). Inputs libFuzzer finds interesting go to
# build-fuzz/corpus/<target>/ (kept between runs); crashing inputs to
# build-fuzz/artifacts/<target>/ (reproduce: build-fuzz/tests/fuzz/<target> <file>).
# Exit status: 0 when no target found a problem.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
secs=${1:-60}
shift || true
build=$root/build-fuzz
mkdir -p "$build"
jobs=${QUANTSCOPE_FUZZ_JOBS:-2}

# The whole tree with -DQUANTSCOPE_FUZZ=ON; if it does not configure (a source
# another module is still writing), tests/fuzz on its own.
if cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
     -DQUANTSCOPE_FUZZ=ON -DQUANTSCOPE_BUILD_TESTS=OFF -DQUANTSCOPE_BUILD_BENCH=OFF >"$build/configure.log" 2>&1; then
  bindir=$build/tests/fuzz
else
  echo "note: the full tree does not configure (see $build/configure.log); building tests/fuzz standalone" >&2
  build=$build/standalone
  cmake -S "$root/tests/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug >/dev/null
  bindir=$build
fi

if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  targets=(fuzz_safetensors)
  [[ -f $root/core/model/tokenizer_bpe.cpp ]] && targets+=(fuzz_tokenizer_json)
fi
cmake --build "$build" -j"$jobs" --target "${targets[@]}"

status=0
for t in "${targets[@]}"; do
  case $t in
    fuzz_safetensors) seeds=$root/tests/fuzz/seeds/safetensors; dict=$root/tests/fuzz/safetensors.dict; maxlen=4096 ;;
    fuzz_tokenizer_json) seeds=$root/tests/fuzz/seeds/tokenizer; dict=$root/tests/fuzz/tokenizer.dict; maxlen=16384 ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
  corpus=$root/build-fuzz/corpus/$t
  artifacts=$root/build-fuzz/artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  echo "== $t for ${secs}s (corpus $corpus, seeds $seeds)"
  # detect_leaks=0: Qt keeps process-lifetime allocations that LeakSanitizer would report
  if ! ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "$bindir/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=$maxlen \
      -dict="$dict" -artifact_prefix="$artifacts/" -print_final_stats=1 "$corpus" "$seeds"; then
    echo "!! $t found a problem; inputs in $artifacts" >&2
    status=1
  fi
done
exit $status
