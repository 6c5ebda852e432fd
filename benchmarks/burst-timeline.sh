#!/bin/bash
# Where one publication's burst spends the two cores: runs the cluster scenario once, records the scheduler
# (`perf sched record -a`) for 2 s of the steady phase, and prints, for each burst, how long it lasted and
# how much CPU each family of threads took in it, then a timeline of the first bursts in 0.25 ms cells, one
# row per core. Needs perf and root (or perf_event_paranoid <= 1).
#   benchmarks/burst-timeline.sh [switchboard|bare] [extra bench options]
# Timeline letters: 1 2 3 the servers' event loops (by node), A B C ... the load generator's event loops (its
# publisher and receivers), h Hazelcast, j JIT compilers, x other server threads, l other load-generator
# threads, o other processes, . idle.
set -euo pipefail
command -v perf > /dev/null || { echo "needs perf (Debian: linux-perf)" >&2; exit 1; }
TARGET=${1:-switchboard}; shift || true
JAR=${JAR:-target/switchboard.jar}
OUT=${OUT:-/tmp/burst-timeline-$TARGET}
LOG=$OUT.log
rm -f "$LOG"
java -jar "$JAR" bench -s cluster --cluster-modes fanout --client-transport io_uring --target "$TARGET" --runs 1 \
  --warmup 60s --duration 20s --saturation 0 "$@" > "$LOG" 2>&1 &
BENCH=$!
for _ in $(seq 1 900); do
  grep -q "steady.* 5s" "$LOG" && break
  kill -0 $BENCH 2> /dev/null || { echo "the bench ended before its steady phase; its log is $LOG" >&2; exit 1; }
  sleep 1
done
# the load generator's threads first, then each server's, in the order they started (node 1 first)
for p in $BENCH $(ps -o pid= --ppid $BENCH --sort=start_time); do
  for t in /proc/$p/task/*; do echo "$p $(basename "$t") $(cat "$t/comm" 2>/dev/null)"; done
done > "$OUT.threads"
perf sched record -a -o "$OUT.data" -- sleep 2 2>&1 | tail -1
wait $BENCH || true
perf sched timehist -i "$OUT.data" 2>/dev/null | tail -n +4 > "$OUT.timehist"
grep -E "steady: publish→receive p(50|99) ms" "$LOG" || true
python3 - "$OUT" <<'PY'
import re, sys
out = sys.argv[1]
threads, procs = {}, []
for line in open(out + '.threads'):
    f = line.split(None, 2)
    if len(f) < 3:
        continue
    pid, tid, comm = int(f[0]), int(f[1]), f[2].strip()
    threads[tid] = (pid, comm)
    if pid not in procs:
        procs.append(pid)
bench, servers = procs[0], {p: str(i + 1) for i, p in enumerate(procs[1:])}
bench_loops = {}
def family(tid):
    if tid not in threads:
        return 'o', 'other processes'
    pid, name = threads[tid]
    if pid == bench:
        if name.startswith('vert.x-eventloo'):
            bench_loops.setdefault(tid, 'ABCDEFGH'[len(bench_loops) % 8])
            return bench_loops[tid], 'load generator loops'
        return 'l', 'load generator, other'
    if name.startswith('vert.x-eventloo'):
        return servers[pid], 'server event loops'
    if name.startswith('hz'):
        return 'h', 'server Hazelcast'
    if 'Compiler' in name:
        return 'j', 'server JIT'
    return 'x', 'server, other'
runs = []
for line in open(out + '.timehist'):
    m = re.match(r'\s*([\d.]+)\s+\[(\d+)\]\s+(<idle>|.*?\[(\d+)(?:/\d+)?\])\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)', line)
    if not m:
        continue
    end, cpu, tid, ran = float(m.group(1)), int(m.group(2)), m.group(4), float(m.group(7)) / 1000
    letter, fam = family(int(tid)) if tid else ('.', 'idle')
    runs.append((end - ran, end, cpu, letter, fam))
runs.sort()
# a burst: event-loop work (servers' and load generator's) with no gap of 5 ms, in which the load generator read
busy = [r for r in runs if r[4] in ('server event loops', 'load generator loops')]
groups, cur, cur_end = [], [], 0.0
for r in busy:
    if cur and r[0] - cur_end > 0.005:
        groups.append(cur); cur = []
    cur.append(r)
    cur_end = max(cur_end, r[1]) if len(cur) > 1 else r[1]
if cur:
    groups.append(cur)
bursts = [(min(r[0] for r in g), max(r[1] for r in g)) for g in groups
          if sum(r[1] - r[0] for r in g if r[4] == 'load generator loops') > 0.001]
if not bursts:
    sys.exit('no burst found in the recording')
cpu_by_family = {}
for s, e in bursts:
    for a, b, cpu, letter, fam in runs:
        lo, hi = max(a, s), min(b, e)
        if hi > lo and fam != 'idle':
            cpu_by_family[fam] = cpu_by_family.get(fam, 0) + (hi - lo)
spans = sorted((e - s) * 1000 for s, e in bursts)
print(f'{len(bursts)} bursts; span ms: median {spans[len(spans) // 2]:.2f}, '
      f'max {spans[-1]:.2f}; all: ' + ' '.join(f'{x:.1f}' for x in spans))
print('CPU per burst, inside the burst (ms):')
for fam, sec in sorted(cpu_by_family.items(), key=lambda kv: -kv[1]):
    print(f'  {fam:<24} {sec * 1000 / len(bursts):6.2f}')
cell = 0.00025
for s, e in bursts[:8]:
    n = int((e - s) / cell) + 3
    rows = {c: ['.'] * n for c in sorted({r[2] for r in runs})}
    for a, b, cpu, letter, fam in runs:
        if b < s or a > e or letter == '.':
            continue
        for i in range(max(0, int((a - s) / cell)), min(n, int((b - s) / cell) + 1)):
            rows[cpu][i] = letter
    print()
    for c, row in rows.items():
        print(f'cpu{c} ' + ''.join(row))
PY
