#!/bin/bash
# What an idle cluster costs: starts N Switchboard nodes from a jar on 127.0.0.1 (no sessions, no traffic),
# lets them settle, then prints the CPU each family of threads used over a measuring window, in ms of CPU
# per second summed over the nodes (Hazelcast's threads, the JIT compiler, the event loops, the workers...).
#   benchmarks/idle-cluster.sh [nodes] [settle seconds] [measure seconds]
# JAR (default target/switchboard.jar) and CLUSTER_XML (default: the cluster.xml inside the jar) choose what
# runs. Each node gets -XX:ActiveProcessorCount=1, as the bench's cluster scenario gives its three servers on
# two cores. The nodes are stopped by PID at the end. Needs jcmd (thread names) and /usr/bin/python3.
set -euo pipefail
NODES=${1:-3}
SETTLE=${2:-100}
MEASURE=${3:-120}
JAR=${JAR:-target/switchboard.jar}
WORK=$(mktemp -d /tmp/idle-cluster.XXXXXX)
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HZ_PORTS=(); for _ in $(seq 1 "$NODES"); do HZ_PORTS+=("$(free_port)"); done
MEMBERS=$(printf '127.0.0.1:%s,' "${HZ_PORTS[@]}"); MEMBERS=${MEMBERS%,}
PIDS=()
stop() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.2; done; done
}
trap stop EXIT
for i in $(seq 1 "$NODES"); do
  env SWITCHBOARD_STANDALONE=false SWITCHBOARD_HOST=127.0.0.1 SWITCHBOARD_PORT="$(free_port)" \
    SWITCHBOARD_CLUSTER_HOST=127.0.0.1 SWITCHBOARD_CLUSTER_PORT="${HZ_PORTS[$((i - 1))]}" \
    SWITCHBOARD_CLUSTER_MEMBERS="$MEMBERS" SWITCHBOARD_CLUSTER_NAME="idle-$$" SWITCHBOARD_NODE_ID="idle-$i" \
    SWITCHBOARD_CLUSTER_CONFIG="${CLUSTER_XML:-$WORK/none.xml}" SWITCHBOARD_LOG_LEVEL=WARN SWITCHBOARD_DRAIN_PERIOD=1s \
    java -XX:ActiveProcessorCount=1 -Xmx2g -XX:+UseG1GC -jar "$JAR" run > "$WORK/node-$i.log" 2>&1 &
  PIDS+=($!)
done
echo "idle cluster of $NODES from $JAR (logs in $WORK); settling ${SETTLE} s, then measuring ${MEASURE} s" >&2
sleep "$SETTLE"
/usr/bin/python3 - "$MEASURE" "${PIDS[@]}" <<'EOF'
import collections, os, re, subprocess, sys, time

window, pids = float(sys.argv[1]), [int(p) for p in sys.argv[2:]]
tick = os.sysconf("SC_CLK_TCK")

def cpu_by_thread():
    ticks = {}
    for pid in pids:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                stat = open(f"/proc/{pid}/task/{tid}/stat").read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            ticks[(pid, int(tid))] = int(fields[11]) + int(fields[12])
    return ticks

def names(pid):
    """Full thread names from jcmd (comm is cut at 15 characters); Hazelcast's instance name is dropped."""
    out = subprocess.run(["jcmd", str(pid), "Thread.print"], capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        m = re.match(r'^"(.*?)".*nid=0x([0-9a-f]+)', line)
        if m:
            family = re.sub(r"^hz\.[^.]+\.", "hz.", m.group(1))
            found[(pid, int(m.group(2), 16))] = re.sub(r"\d+", "#", family)
    return found

before = cpu_by_thread()
time.sleep(window)
after = cpu_by_thread()
label = {}
for pid in pids:
    label.update(names(pid))
families = collections.Counter()
for key, t in after.items():
    families[label.get(key, "(ended or unnamed)")] += (t - before.get(key, 0)) * 1000 / tick / window
total = sum(families.values())
hazelcast = sum(v for k, v in families.items() if k.startswith("hz."))
print(f"CPU over {window:.0f} s, ms per second summed over {len(pids)} nodes:")
for family, ms in families.most_common():
    if ms > 0:
        print(f"  {family:60s} {ms:7.2f}")
print(f"  {'all Hazelcast threads':60s} {hazelcast:7.2f}")
print(f"  {'total':60s} {total:7.2f}")
EOF
