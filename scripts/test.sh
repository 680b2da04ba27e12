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

echo "== build (asan-ubsan)"
cmake --preset asan-ubsan >/dev/null
cmake --build --preset asan-ubsan -j "$JOBS"

echo "== unit, golden, integration (asan-ubsan)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --preset asan-ubsan -L 'unit|golden|integration' -j "$JOBS" --timeout 600

echo "== fuzz smoke (clang + libFuzzer)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$JOBS"
ctest --test-dir build/fuzz -L fuzz --output-on-failure -j "$JOBS"
