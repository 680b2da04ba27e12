# Shared harness for shell integration tests: the lab plus small assertions.
# A test sources this, calls `it_begin`, runs checks, ends with `it_end`.
# Not root: exit 77 (CTest SKIP), except in CI (CI=true) where a skip is a failure.
set -uo pipefail
IT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$IT_ROOT/testing/lab/lab.sh"

IT_PASS=0
IT_FAIL=0
IT_NAME=$(basename "$0" .sh)

it_begin() {
  if [ "$(id -u)" -ne 0 ]; then
    if [ "${CI:-}" = "true" ]; then
      echo "FAIL: $IT_NAME needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and CI must run it" >&2
      exit 1
    fi
    echo "SKIP: $IT_NAME needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)" >&2
    exit 77
  fi
  for bin in "$VNETD" "$VNETCTL"; do
    [ -x "$bin" ] || { echo "FAIL: $bin is not built" >&2; exit 1; }
  done
  LAB_QUIET=1
  lab_init
  trap 'it_on_exit' EXIT
}

it_on_exit() {
  local rc=$?
  if [ "$IT_FAIL" -gt 0 ] || [ "$rc" -ne 0 ]; then
    echo "---- vnetd log ----" >&2
    tail -n 40 "$LAB_VNETD_LOG" 2>/dev/null >&2
  fi
  lab_down
  exit $rc
}

pass() { IT_PASS=$((IT_PASS + 1)); echo "ok   - $*"; }
fail() { IT_FAIL=$((IT_FAIL + 1)); echo "FAIL - $*"; }

# check DESC CMD...: passes when CMD exits 0.
check() {
  local desc=$1
  shift
  local out
  if out=$("$@" 2>&1); then pass "$desc"; else fail "$desc"; echo "$out" | sed 's/^/       /' | head -20; fi
}

# check_fails DESC CMD...: passes when CMD exits non-zero.
check_fails() {
  local desc=$1
  shift
  if "$@" >/dev/null 2>&1; then fail "$desc (unexpectedly succeeded)"; else pass "$desc"; fi
}

# check_output DESC PATTERN CMD...: CMD succeeds (or not, see EXPECT_RC) and its
# stdout+stderr matches the extended regex PATTERN.
check_output() {
  local desc=$1 pattern=$2
  shift 2
  local out
  out=$("$@" 2>&1)
  # A here-string, not a pipe: with pipefail, grep -q quitting early can fail printf (SIGPIPE).
  if grep -Eq -- "$pattern" <<<"$out"; then
    pass "$desc"
  else
    fail "$desc: output does not match /$pattern/"
    echo "$out" | sed 's/^/       /' | head -20
  fi
}

it_end() {
  echo "$IT_PASS passed, $IT_FAIL failed"
  [ "$IT_FAIL" -eq 0 ]
}
