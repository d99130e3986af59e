#!/usr/bin/env bash
# QuantScope set-up: installs Debian 12 packages (when missing), builds, then
#   demo  -> launches the app on its built-in (synthetic) demo model
#   test  -> runs the whole test suite (what CI runs)
# Usage: bash .ci/setup.sh demo|test      (as root on a fresh Debian 12 machine)
set -euo pipefail
cd "$(dirname "$0")/.."

MODE="${1:-}"
case "$MODE" in demo|test|build) ;; *) echo "usage: bash .ci/setup.sh demo|test|build" >&2; exit 2;; esac

PACKAGES=(build-essential cmake ninja-build pkg-config
  qt6-base-dev qt6-charts-dev qt6-tools-dev qt6-l10n-tools libqt6sql6-sqlite
  libeigen3-dev ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo xvfb)

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
  cmake --build "$BUILD_DIR" -j"$JOBS" --target quantscope-cli   # just the app
else
  cmake --build "$BUILD_DIR" -j"$JOBS"
fi

case "$MODE" in
  demo)
    # Until the GUI lands, "launching the app" runs the CLI on the built-in demo model.
    "$BUILD_DIR"/app/quantscope-cli demo
    ;;
  test)
    ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 900
    ;;
esac
