#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test layer:
#   unit, golden, integration  — the asan-ubsan preset (g++, ASan + UBSan)
#   fuzz                       — the fuzz preset (clang, libFuzzer), a short smoke per target
# In CI (CI=true) an integration test that skips (not root) is a failure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOBS=${JOBS:-$(nproc)}

"$ROOT/scripts/install-deps.sh"

echo "== format (.clang-format)"
"$ROOT/scripts/check-format.sh"

echo "== build (asan-ubsan)"
cmake --preset asan-ubsan >/dev/null
cmake --build --preset asan-ubsan -j "$JOBS"

# The fuzz build (clang) runs at the lowest CPU priority while the tests run: the lab tests
# mostly wait (STP, DHCP, timers), so it uses what they leave idle without slowing them.
echo "== fuzz build in the background (clang + libFuzzer, nice 19): build/fuzz/build.log"
cmake --preset fuzz >/dev/null
mkdir -p build/fuzz
nice -n 19 cmake --build --preset fuzz -j "$JOBS" > build/fuzz/build.log 2>&1 &
FUZZ_BUILD=$!
trap 'kill "$FUZZ_BUILD" 2>/dev/null || true' EXIT

echo "== unit, golden, integration (asan-ubsan)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --preset asan-ubsan -L 'unit|golden|integration' -j "$JOBS" --timeout 600

echo "== fuzz smoke (clang + libFuzzer)"
if ! wait "$FUZZ_BUILD"; then
  tail -50 build/fuzz/build.log >&2
  echo "fuzz build failed (build/fuzz/build.log)" >&2
  exit 1
fi
trap - EXIT
ctest --test-dir build/fuzz -L fuzz --output-on-failure -j "$JOBS"
