#!/bin/bash
# Kernel-inclusive CPU profile of the fanout node (JFR, the bench's --profile, sees Java frames only, and
# two thirds of a delivery's CPU is in the kernel). Needs perf (linux-perf) and root or perf_event_paranoid <= 1.
#   benchmarks/perf-profile.sh switchboard|bare [extra bench options]
# Starts one fanout run, records 20 s of the steady phase with call graphs, writes a perf map for the JIT
# code, and prints the top symbols; the recording stays in /tmp/perf-<target>.data for `perf report -i`.
set -euo pipefail
TARGET=${1:?switchboard or bare}; shift || true
JAR=${JAR:-target/switchboard.jar}
LOG=/tmp/perf-$TARGET.log
rm -f "$LOG" # the wait below must not find the previous run's line before this run truncates it
java -jar "$JAR" bench -s fanout --target "$TARGET" --runs 1 --warmup 60s --duration 45s --saturation 0 \
  --work-dir "/tmp/perf-$TARGET-work" "$@" > "$LOG" 2>&1 &
BENCH=$!
for _ in $(seq 1 600); do grep -q "steady 20 msg/s 5s" "$LOG" && break; sleep 1; done
# The node runs from the same jar as the bench (JAR may name another build than target/switchboard.jar).
PID=$(pgrep -f "$(basename "$JAR") dev.switchboard" | head -1 || true)
if [ -z "$PID" ]; then
  echo "no node process from $JAR found; the bench's log is $LOG" >&2
  kill "$BENCH" 2>/dev/null || true
  exit 1
fi
echo "node pid $PID: $(ps -o args= -p "$PID" | cut -c1-160)"
perf record -g -p "$PID" -o "/tmp/perf-$TARGET.data" -- sleep 20 2>&1 | tail -1
jcmd "$PID" Compiler.perfmap > /dev/null
wait $BENCH || true
perf report -i "/tmp/perf-$TARGET.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -30
grep -E "node CPU s per 1M|kernel|p99 ms" "$LOG" || true
