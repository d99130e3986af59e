#!/usr/bin/env bash
# QuantScope set-up: installs Debian 12 packages (when missing), builds, then
#   demo  -> launches the desktop app on its built-in (synthetic) demo model
#            (no display: runs it under Xvfb through the demo workflow and saves a screenshot)
#   test  -> runs the whole test suite (what CI runs)
# Usage: bash .ci/setup.sh demo|test      (as root on a fresh Debian 12 machine)
set -euo pipefail
cd "$(dirname "$0")/.."

MODE="${1:-}"
case "$MODE" in demo|test|build) ;; *) echo "usage: bash .ci/setup.sh demo|test|build" >&2; exit 2;; esac

PACKAGES=(build-essential cmake ninja-build pkg-config
  qt6-base-dev qt6-charts-dev qt6-tools-dev qt6-l10n-tools libqt6sql6-sqlite
  libeigen3-dev ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo xvfb
  python3 python3-numpy)  # tests/tools/check_gguf.py, check_gptq_packed.py: independent readers run by CTest

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

BUILD_DIR="${QUANTSCOPE_BUILD_DIR:-build}"
JOBS="$(nproc)"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
if [ "$MODE" = demo ]; then
  cmake --build "$BUILD_DIR" -j"$JOBS" --target quantscope   # just the desktop app
else
  cmake --build "$BUILD_DIR" -j"$JOBS"
fi

case "$MODE" in
  demo)
    if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
      # the desktop app, opening the built-in demo model
      "$BUILD_DIR"/app/quantscope --demo
    else
      # No display: run the GUI on a virtual X server (xvfb-run -a) through the demo
      # workflow (build the demo model, analyse it, auto-assign at 3 bits/weight)
      # and save what the window shows, since nobody can look at it live.
      echo "no DISPLAY: running the app under Xvfb; the window is saved to $BUILD_DIR/demo-screenshot.png" >&2
      xvfb-run -a "$BUILD_DIR"/app/quantscope --demo --screenshot "$BUILD_DIR"/demo-screenshot.png
    fi
    ;;
  test)
    ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 900
    ;;
esac
