#!/usr/bin/env bash
# The long fuzz run (issue 6): N executions per target, one target at a time, and a line per
# target with executions, time, exec/s and the result.
#
#   cmake --preset fuzz && cmake --build --preset fuzz
#   tests/fuzz/run-long.sh [-n EXECS] [-t MAX_SECONDS] [-j JOBS] [-p PRESET] [-x FLAGS] [TARGET...]
#
# -p: the build preset whose targets run (default fuzz: ASan+UBSan; fuzz-ubsan: UBSan only,
# ~2.5x faster, for a target whose ASan rate makes 10 million executions take hours).
# -x: extra libFuzzer flags, e.g. -x -entropic=0 (libFuzzer's entropic scheduling costs more
# than the input itself in the API target).
#
# Defaults: 10,000,000 executions, at most 1500 s per target, all four targets
# (fuzz_network_xml fuzz_api_request fuzz_dhcp_packet fuzz_dns_message), 1 job.
# Each target starts from its seed corpus (tests/fuzz/*/corpus/TARGET, only read) and a
# scratch corpus in build/fuzz/long/TARGET that grows across runs. Crash reproducers are
# written to build/fuzz/long/TARGET/artifacts; copy them into the seed corpus once fixed.
# With -j > 1 libFuzzer runs that many workers (-fork) and the execution count is the sum.
# Runs under `nice -n 19`. Exit status: 0 when every target ran clean.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PRESET=fuzz
EXECS=10000000
MAX_TIME=1500
JOBS=1
EXTRA=()
while getopts "n:t:j:p:x:h" opt; do
  case $opt in
    n) EXECS=$OPTARG ;;
    t) MAX_TIME=$OPTARG ;;
    j) JOBS=$OPTARG ;;
    p) PRESET=$OPTARG ;;
    x) EXTRA+=("$OPTARG") ;;
    *) sed -n '2,23p' "$0"; exit 2 ;;
  esac
done
BUILD="$ROOT/build/$PRESET"
shift $((OPTIND - 1))
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(fuzz_network_xml fuzz_api_request fuzz_dhcp_packet fuzz_dns_message)

declare -A DIR=([fuzz_network_xml]=config [fuzz_api_request]=api [fuzz_dhcp_packet]=dhcp
                [fuzz_dns_message]=dns)

status=0
echo "preset $PRESET; libFuzzer flags:${EXTRA[*]:+ ${EXTRA[*]}}; $JOBS job(s); goal $EXECS executions or $MAX_TIME s per target"
printf '%-18s %12s %8s %9s  %s\n' target executions seconds exec/s result
for t in "${TARGETS[@]}"; do
  d=${DIR[$t]:-}
  bin="$BUILD/tests/fuzz/$d/$t"
  seeds="$ROOT/tests/fuzz/$d/corpus/$t"
  if [ -z "$d" ] || [ ! -x "$bin" ]; then
    echo "$t: not built ($bin); cmake --preset $PRESET && cmake --build --preset $PRESET" >&2
    status=1
    continue
  fi
  work="$BUILD/long/$t"
  mkdir -p "$work/corpus" "$work/artifacts"
  log="$work/run.log"
  args=(-runs="$EXECS" -max_total_time="$MAX_TIME" -max_len=4096 -timeout=10
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/artifacts/")
  [ "$JOBS" -gt 1 ] && args+=(-fork="$JOBS" -ignore_crashes=0)
  args+=("${EXTRA[@]}")
  start=$(date +%s.%N)
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    nice -n 19 "$bin" "${args[@]}" "$work/corpus" "$seeds" >"$log" 2>&1
  rc=$?
  end=$(date +%s.%N)
  secs=$(python3 -c "print(f'{$end - $start:.0f}')")
  # libFuzzer's final stats ("stat::number_of_executed_units: N") count one process; with
  # -fork the parent's status lines ("#N: cov: ...") carry the sum over all jobs.
  if [ "$JOBS" -gt 1 ]; then
    execs=$(grep -oE '^#[0-9]+:' "$log" | tail -1 | tr -d '#:')
  else
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  fi
  [ -n "$execs" ] || execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  [ -n "$execs" ] || execs=0
  rate=$(python3 -c "print(int($execs / max($end - $start, 0.001)))")
  if [ $rc -eq 0 ]; then
    result=clean
    [ "$execs" -ge "$EXECS" ] || result="clean (time limit before $EXECS executions)"
  else
    status=1
    crash=$(ls -t "$work/artifacts" 2>/dev/null | head -1)
    result="FAILED (exit $rc${crash:+, reproducer $work/artifacts/$crash}); log: $log"
  fi
  printf '%-18s %12s %8s %9s  %s\n' "$t" "$execs" "$secs" "$rate" "$result"
done
exit $status
