#!/usr/bin/python3
"""Bounded soak of one Switchboard node: checks it loses nothing and leaks nothing.

    /usr/bin/python3 benchmarks/soak.py --jar target/switchboard.jar --minutes 20

Starts `java -Xmx1g -jar <jar>` itself (standalone, 127.0.0.1, a free port, its own JWT secret and API
key, `SWITCHBOARD_TRANSPORT=<transport>`, and a config file in a temp dir (SWITCHBOARD_CONF) that raises
session.max_message_size so the large messages fit, sets limits.connections_per_ip to --ip-limit and lifts
the connect rate), waits for /health/ready, then runs, all at once, for --minutes:

  1. healthy subscribers (default 300) on room:soak and their own user: channel, reading everything;
     a publisher POSTs /api/publish to room:soak at --room-rate msg/s with a sequence number (every
     --large-interval s a --large-size payload), and random direct messages to user:<healthy> at
     --direct-rate msg/s. Each subscriber checks it gets every room message published after its
     subscribe ack, in order, without gaps, and every direct message sent to it, in order.
  2. reconnect churn (--churn-rate connections/s): connect, auth (query token, Authorization header or
     auth frame), subscribe, receive one or two room messages, leave: half with a clean close, a quarter
     by dropping the TCP connection without a close frame (FIN or RST), a quarter mid-handshake
     (TCP connect then drop, with nothing, half a request line or an unread upgrade request).
  3. every --slow-interval s a slow consumer: a raw socket with a small SO_RCVBUF that subscribes to
     room:soak and room:soak-flood and then never reads again. While one is stalled, 32 KiB messages go
     to room:soak-flood (nobody else is on it) so its 1 MiB outbound queue overflows in seconds; the node
     must close it with 4009 and cut it (RST) within the close grace. The client watches its TCP state
     (TCP_INFO) without reading; the node's close is seen as the consumer leaving the flood room's presence
     (GET /api/presence), so close->cut must stay within --close-grace + 3 s.
  4. the large room messages of 1.

Every --progress s a progress line (node RSS and open fds from /proc, sessions and deliveries from
/metrics, client-side counts, errors). At the end: load stops, every client closes, and once
switchboard_connections is 0 a probe opens --ip-limit + 1 sessions from 127.0.0.1: exactly --ip-limit must
be admitted (no per-IP slot held by a connection that is gone). Then the tool waits (bounded) until
sessions are 0 and the node's open fds are back near the baseline taken after start-up. Exit 0 only if:
no healthy subscriber lost, duplicated or reordered a message, every slow consumer was cut in time and
switchboard_disconnects_total{code="4009"} rose by exactly their number, no per-IP slot leaked, fds back
to baseline (+-20), sessions 0, node alive, and no ERROR line or Java stack trace in the node's log (saved
in a temp dir; its path is printed; --allow-log REGEX tolerates a known one). Otherwise exit 1 with the
reasons. Bounded: --minutes plus at most about two minutes of drain (and a hard deadline).

--nodes N (2 or 3; default 1, the single node above) runs the same soak against a Hazelcast cluster of N
nodes started from the jar, in parallel: each in its own sub-directory of the temp dir with its own log,
HTTP port and Hazelcast port, all on 127.0.0.1 with the same JWT secret and API key, every member listed
in SWITCHBOARD_CLUSTER_MEMBERS and a cluster name unique to the run (soak-<random>), so it joins nothing
else. The load starts once every node's /health/ready is 200 with members == N. Healthy subscriber i is
on node i % N, churn clients and slow consumers take the nodes in turn, and both publishers (and the
flood) POST to node 1, so every delivery to a client on another node crosses the cluster. The per-IP slot
probe runs on node 1 (the limit is per node). Every per-node check above applies to each node (alive,
sessions 0, fds back to its own baseline, a clean log); the 4009 count is summed over the nodes. Progress
lines show one value per node where there is one (fds=24/31), sums where it is a total (deliveries).

Only the standard library and Debian's python3-websockets.
"""

import argparse
import asyncio
import base64
import collections
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import resource
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import websockets

ROOM = "room:soak"
FLOOD = "room:soak-flood"
TCP_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT",
              7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING"}
DRAIN_BUDGET_S = 120.0
RUNNING = []   # the Soak in progress, for the signal handler
K4009 = 'switchboard_disconnects_total{code="4009"}'


def now():
    return time.monotonic()


# ---------------------------------------------------------------------------------------------- helpers

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_token(secret, sub, rooms, ttl_s):
    header = {"alg": "HS256", "typ": "JWT"}
    iat = int(time.time())
    claims = {"sub": sub, "rooms": rooms, "iat": iat, "exp": iat + int(ttl_s)}
    signing_input = b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(sig)


_PORTS_GIVEN = set()


def free_port():
    # Each port is free when asked for but bound only later by a node: never hand out the same one twice.
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _PORTS_GIVEN:
            _PORTS_GIVEN.add(port)
            return port


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        try:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
        except ValueError:
            pass
    return out


def proc_status(pid):
    """(rss_kib, fds) of a live process, or (None, None)."""
    rss = None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss, fds
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None, None


def mib(kib):
    return "?" if kib is None else f"{kib / 1024:.0f}MiB"


def ws_client_frame(payload, opcode=0x1):
    """A masked client frame (RFC 6455)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


def ws_parse_server_frames(buf):
    """Splits complete unmasked server frames off buf: ([(opcode, payload)], rest)."""
    frames = []
    while True:
        if len(buf) < 2:
            return frames, buf
        b0, b1 = buf[0], buf[1]
        n = b1 & 0x7F
        off = 2
        if n == 126:
            if len(buf) < 4:
                return frames, buf
            n = struct.unpack("!H", buf[2:4])[0]
            off = 4
        elif n == 127:
            if len(buf) < 10:
                return frames, buf
            n = struct.unpack("!Q", buf[2:10])[0]
            off = 10
        if len(buf) < off + n:
            return frames, buf
        frames.append((b0 & 0x0F, bytes(buf[off:off + n])))
        buf = buf[off + n:]


# ------------------------------------------------------------------------------------------------ node

def _die_with_parent():
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass


class Node:
    def __init__(self, args, workdir, index=1, secret=None, api_key=None, cluster_port=None):
        self.args = args
        self.workdir = workdir
        self.index = index
        # What reasons and facts call it: "node" alone keeps a one-node run's report as it always was.
        self.name = "node" if args.nodes == 1 else f"node {index}"
        self.port = free_port()
        self.secret = secret or "soak-" + base64.b16encode(os.urandom(20)).decode().lower()
        self.api_key = api_key or "soak-key-" + base64.b16encode(os.urandom(8)).decode().lower()
        self.cluster_port = cluster_port
        self.cluster_name = None
        self.cluster_members = None
        self.log_path = os.path.join(workdir, "node.log")
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        self.proc = None
        self._log = None

    @property
    def tag(self):
        """Prefix for a per-node reason: none with one node."""
        return "" if self.args.nodes == 1 else f"{self.name}: "

    def start(self):
        conf = {
            "session": {"max_message_size": max(262144, self.args.large_size + 65536)},
            # Admission must not refuse the soak's own load (healthy ramp plus churn, from one IP).
            "limits": {"connect_rate_per_ip": 5000, "connections_per_ip": self.args.ip_limit},
        }
        conf_path = os.path.join(self.workdir, "soak-conf.json")
        with open(conf_path, "w") as f:
            json.dump(conf, f)
        env = dict(os.environ)
        env.update({
            "SWITCHBOARD_STANDALONE": "true",
            "SWITCHBOARD_HOST": "127.0.0.1",
            "SWITCHBOARD_PORT": str(self.port),
            "SWITCHBOARD_JWT_SECRET": self.secret,
            "SWITCHBOARD_API_KEYS": self.api_key,
            "SWITCHBOARD_CONF": conf_path,
            "SWITCHBOARD_TRANSPORT": self.args.transport,
            "SWITCHBOARD_DRAIN_PERIOD": "1s",
            "SWITCHBOARD_CLUSTER_HOST": "127.0.0.1",
        })
        if self.cluster_name is not None:
            env.update({
                "SWITCHBOARD_STANDALONE": "false",
                "SWITCHBOARD_NODE_ID": f"soak-n{self.index}",
                "SWITCHBOARD_CLUSTER_PORT": str(self.cluster_port),
                "SWITCHBOARD_CLUSTER_MEMBERS": self.cluster_members,
                "SWITCHBOARD_CLUSTER_NAME": self.cluster_name,
            })
        self._log = open(self.log_path, "wb")
        cmd = [self.args.java, "-Xmx1g", "-jar", self.args.jar]
        # Own session: a Ctrl-C reaches this tool only, which then stops the node itself. The parent-death
        # signal stops the node should this tool be killed without a chance to clean up.
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.workdir, start_new_session=True,
                                     preexec_fn=_die_with_parent)
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def http(self, method, path, body=None, timeout=10.0):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Authorization": "Bearer " + self.api_key}
            if body is not None:
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def wait_ready(self, timeout_s=90.0):
        deadline = now() + timeout_s
        while now() < deadline:
            if not self.alive():
                raise RuntimeError(f"node exited during start-up with code {self.proc.returncode}; log: {self.log_path}")
            try:
                status, body = self.http("GET", "/health/ready", timeout=2.0)
                if status == 200:
                    return json.loads(body)
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"node not ready after {timeout_s:.0f} s; log: {self.log_path}")

    def ready_state(self):
        """(status, parsed body or the raw text) of GET /health/ready, or (None, the error)."""
        try:
            status, body = self.http("GET", "/health/ready", timeout=2.0)
        except OSError as e:
            return None, f"{type(e).__name__}: {e}"
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body[:200]

    def metrics(self):
        status, body = self.http("GET", "/metrics", timeout=10.0)
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        return parse_metrics(body.decode())

    def stop(self):
        """SIGTERM (1 s drain), then SIGKILL; only the process this tool started, by its PID."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        if self._log:
            self._log.close()
            self._log = None
        return self.proc.returncode


def make_nodes(args, workdir):
    """One node in workdir as always, or N cluster members in workdir/node<i>, sharing secret and API key."""
    if args.nodes == 1:
        return [Node(args, workdir)]
    # Ascending Hazelcast ports: node 1, started first, has the lowest address, the one Hazelcast's TCP-IP
    # join makes master when members start together, so the others join it instead of racing to form one.
    cluster_ports = sorted(free_port() for _ in range(args.nodes))
    nodes = []
    for i in range(1, args.nodes + 1):
        sub = os.path.join(workdir, f"node{i}")
        os.makedirs(sub)
        first = nodes[0] if nodes else None
        nodes.append(Node(args, sub, index=i, secret=first and first.secret, api_key=first and first.api_key,
                          cluster_port=cluster_ports[i - 1]))
    name = "soak-" + base64.b16encode(os.urandom(6)).decode().lower()
    members = ",".join(f"127.0.0.1:{p}" for p in cluster_ports)
    for n in nodes:
        n.cluster_name = name
        n.cluster_members = members
    return nodes


def wait_cluster_ready(nodes, timeout_s):
    """Polls every node until each answers /health/ready 200 with members == len(nodes): {node: body}."""
    want = len(nodes)
    deadline = now() + timeout_s
    ready, last = {}, {}
    while True:
        for n in nodes:
            # Checked every round, so a member that died is named at once, not after the deadline.
            if not n.alive():
                raise RuntimeError(f"{n.name} (pid {n.proc.pid}, port {n.port}) exited during start-up with code "
                                   f"{n.proc.returncode}; log: {n.log_path}")
        for n in nodes:
            if n in ready:
                continue
            status, body = n.ready_state()
            last[n] = (status, body)
            if status == 200 and isinstance(body, dict) and body.get("members") == want:
                ready[n] = body
        if len(ready) == want:
            return ready
        if now() >= deadline:
            break
        time.sleep(0.5)
    late = [n for n in nodes if n not in ready]
    raise RuntimeError("cluster not formed after {:.0f} s: ".format(timeout_s) + "; ".join(
        f"{n.name} (pid {n.proc.pid}, port {n.port}, hazelcast {n.cluster_port}) last /health/ready "
        f"{last[n][0]} {last[n][1]}, not 200 with members == {want}; log: {n.log_path}" for n in late))


# ----------------------------------------------------------------------------------------------- state

class Soak:
    def __init__(self, args, nodes):
        self.args = args
        self.nodes = nodes
        self.node = nodes[0]                    # publishers, presence of the flood room, the per-IP probe
        self.rnd = random.Random(args.seed)
        self.stop_load = threading.Event()      # churn / slow spawners stop
        self.stop_publish = threading.Event()   # room and direct publishers stop
        self.stop_flood = threading.Event()
        self.errors = collections.Counter()     # category -> count
        self.error_samples = collections.OrderedDict()  # category -> first few messages
        self.lock = threading.Lock()
        # publisher side (written by publisher threads)
        self.room_started = 0                   # highest seq whose publish request has begun
        self.room_published = 0                 # highest seq accepted with 200
        self.room_failed = set()
        self.large_published = 0
        self.direct_published = 0
        self.direct_sent = collections.Counter()   # user -> last d begun
        self.direct_failed = collections.defaultdict(set)
        self.flood_published = 0
        # clients
        self.healthy = []                        # list of Healthy
        self.healthy_users = []
        self.churn = collections.Counter()
        self.churn_inflight = 0
        self.slow_started = 0
        self.slow_active = 0
        self.slow_cut = []                      # (seconds stalled before the cut, tcp state)
        self.slow_stalled_at = {}               # user -> monotonic time it stopped reading
        self.slow_cut_at = {}                   # user -> monotonic time the client saw the cut
        self.slow_left_at = {}                  # user -> (last poll still present, first poll gone) from presence
        self.slow_node = {}                     # user -> the node it is connected to
        self.slow_not_cut = 0
        self.large_payload = b64url(os.urandom(args.large_size * 3 // 4 + 4))[:args.large_size]
        self.flood_payload = b64url(os.urandom(32 * 1024))[:32 * 1024]
        self.ws_url = self.node.ws_url
        self.token_ttl = int(args.minutes * 60 + 3600)

    def node_for(self, n):
        return self.nodes[n % len(self.nodes)]

    def error(self, category, message):
        with self.lock:
            self.errors[category] += 1
            samples = self.error_samples.setdefault(category, [])
            if len(samples) < 5:
                samples.append(message)

    def total_errors(self):
        with self.lock:
            return sum(self.errors.values())


# ------------------------------------------------------------------------------------------ publishers

class Publisher(threading.Thread):
    """One keep-alive HTTP connection, paced; subclasses say what to publish next."""

    def __init__(self, soak, name, rate, stop_event):
        super().__init__(name=name, daemon=True)
        self.soak = soak
        self.rate = rate
        self.stop_event = stop_event
        self.conn = None

    def post(self, body):
        s = self.soak
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", s.node.port, timeout=15)
                self.conn.request("POST", "/api/publish", body=body,
                                  headers={"Authorization": "Bearer " + s.node.api_key,
                                           "Content-Type": "application/json"})
                r = self.conn.getresponse()
                data = r.read()
                if r.status == 200:
                    return True
                s.error("http_publish", f"{self.name}: HTTP {r.status} {data[:200]!r}")
                return False
            except (OSError, http.client.HTTPException) as e:
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    s.error("http_publish", f"{self.name}: {type(e).__name__}: {e}")
                    return False
                # a keep-alive connection closed by the server between requests: retry once on a
                # new one (safe only if nothing was sent; http.client raises before sending then)
                if not isinstance(e, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)):
                    s.error("http_publish", f"{self.name}: {type(e).__name__}: {e}")
                    return False
        return False

    def run(self):
        interval = 1.0 / self.rate
        nxt = now()
        try:
            while not self.stop_event.is_set():
                self.step()
                nxt += interval
                delay = nxt - now()
                if delay > 0:
                    self.stop_event.wait(delay)
                elif delay < -1.0:
                    nxt = now()   # do not burst to catch up after a stall
        except Exception as e:  # noqa: BLE001 - a crash here must show up as an error, not hang the soak
            self.soak.error("publisher_crash", f"{self.name}: {type(e).__name__}: {e}")
        finally:
            if self.conn is not None:
                self.conn.close()


class RoomPublisher(Publisher):
    def __init__(self, soak):
        super().__init__(soak, "room-publisher", soak.args.room_rate, soak.stop_publish)
        self.next_large = now() + soak.args.large_interval / 2

    def step(self):
        s = self.soak
        seq = s.room_started + 1
        msg = {"seq": seq, "ts": time.time()}
        large = now() >= self.next_large
        if large:
            self.next_large = now() + s.args.large_interval
            msg["big"] = s.large_payload
        body = json.dumps({"channel": ROOM, "message": msg})
        s.room_started = seq          # from here on a subscriber acked earlier must receive it
        if self.post(body):
            s.room_published = seq
            if large:
                s.large_published += 1
        else:
            s.room_failed.add(seq)
            s.room_published = seq


class DirectPublisher(Publisher):
    def __init__(self, soak):
        super().__init__(soak, "direct-publisher", soak.args.direct_rate, soak.stop_publish)

    def step(self):
        s = self.soak
        if not s.healthy_users:
            return
        user = s.rnd.choice(s.healthy_users)
        d = s.direct_sent[user] + 1
        s.direct_sent[user] = d
        body = json.dumps({"channel": "user:" + user, "message": {"d": d, "to": user}})
        if self.post(body):
            s.direct_published += 1
        else:
            s.direct_failed[user].add(d)


class FloodPublisher(Publisher):
    """32 KiB messages to room:soak-flood while a slow consumer is stalled (nobody else listens)."""

    def __init__(self, soak):
        super().__init__(soak, "flood-publisher", soak.args.flood_rate, soak.stop_flood)

    def step(self):
        s = self.soak
        if s.slow_active <= 0:
            return
        body = json.dumps({"channel": FLOOD, "message": {"flood": s.flood_payload}})
        if self.post(body):
            s.flood_published += 1


# ------------------------------------------------------------------------------------ healthy clients

class Healthy:
    def __init__(self, soak, index):
        self.soak = soak
        self.user = f"h{index}"
        self.node = soak.node_for(index)
        self.deflate = soak.rnd.random() < soak.args.deflate_share
        self.ws = None
        self.ready = asyncio.Event()
        self.failed = False
        self.closing = False
        self.first_required = None    # first room seq begun after the subscribe ack
        self.first_seq = None
        self.last_seq = None
        self.room_received = 0
        self.last_d = 0
        self.direct_received = 0
        self.task = None

    def fail(self, category, message):
        self.failed = True
        self.soak.error(category, f"{self.node.tag}{self.user}: {message}")

    async def run(self):
        s = self.soak
        token = mint_token(s.node.secret, self.user, ["soak"], s.token_ttl)
        try:
            self.ws = await websockets.connect(
                self.node.ws_url + "?token=" + token, compression="deflate" if self.deflate else None,
                max_size=8 * 1024 * 1024, open_timeout=30, close_timeout=10, ping_interval=20, ping_timeout=60)
            first = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            if first.get("type") != "auth_success":
                self.fail("healthy_setup", f"expected auth_success, got {first}")
                return
            await self.ws.send(json.dumps({"type": "subscribe", "id": 1, "channel": ROOM}))
            async for raw in self.ws:
                f = json.loads(raw)
                t = f.get("type")
                if t == "message":
                    self.on_message(f)
                elif t == "ack" and f.get("id") == 1 and self.first_required is None:
                    # Anything whose publish begins from now on must arrive.
                    self.first_required = s.room_started + 1
                    self.ready.set()
                elif t == "error":
                    self.fail("healthy_error_frame", f"error frame {f}")
            if not self.closing:
                self.fail("healthy_closed", f"connection closed by the node: code={self.ws.close_code} "
                                            f"reason={self.ws.close_reason!r}")
        except websockets.ConnectionClosed as e:
            if not self.closing:
                self.fail("healthy_closed", f"connection closed: code={e.code} reason={e.reason!r}")
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001
            if not self.closing:
                self.fail("healthy_setup" if not self.ready.is_set() else "healthy_crash",
                          f"{type(e).__name__}: {e}")
        finally:
            self.ready.set()

    def on_message(self, f):
        s = self.soak
        ch = f.get("channel")
        m = f.get("message")
        if ch == ROOM:
            seq = m.get("seq")
            self.room_received += 1
            if "big" in m and m["big"] != s.large_payload:
                self.fail("room_corrupt", f"large message seq={seq} payload differs ({len(m['big'])} chars)")
            if self.last_seq is None:
                self.first_seq = seq
            else:
                expected = self.last_seq + 1
                while expected in s.room_failed and expected < seq:
                    expected += 1
                if seq != expected:
                    kind = "room_reorder_or_duplicate" if seq <= self.last_seq else "room_gap"
                    self.fail(kind, f"room seq {seq} after {self.last_seq}")
            self.last_seq = seq if self.last_seq is None else max(self.last_seq, seq)
        elif ch == "user:" + self.user:
            d = m.get("d")
            self.direct_received += 1
            expected = self.last_d + 1
            while expected in s.direct_failed[self.user] and expected < d:
                expected += 1
            if d != expected:
                kind = "direct_reorder_or_duplicate" if d <= self.last_d else "direct_gap"
                self.fail(kind, f"direct d={d} after {self.last_d}")
            self.last_d = max(self.last_d, d)
        else:
            self.fail("unexpected_channel", f"message on {ch}")

    def caught_up(self):
        s = self.soak
        return (self.last_seq == s.room_published or s.room_published < (self.first_required or 1)) \
            and self.last_d >= s.direct_sent[self.user]

    def final_check(self):
        s = self.soak
        if self.failed:
            return
        if self.first_required is None:
            self.fail("healthy_setup", "never got the subscribe ack")
            return
        if s.room_published >= self.first_required:
            if self.first_seq is None:
                self.fail("room_gap", f"no room message at all (first required seq {self.first_required})")
            elif self.first_seq > self.first_required:
                self.fail("room_gap", f"first room seq {self.first_seq} > first required {self.first_required}")
            elif self.last_seq != s.room_published:
                self.fail("room_gap", f"last room seq {self.last_seq}, published {s.room_published}")
        if self.last_d != s.direct_sent[self.user]:
            self.fail("direct_gap", f"last direct d={self.last_d}, sent {s.direct_sent[self.user]}")

    async def close(self):
        self.closing = True
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 15)
            except Exception:  # noqa: BLE001
                pass


# ------------------------------------------------------------------------------------------- churn

async def churn_client(soak, n):
    s = soak
    r = s.rnd.random()
    kind = "clean" if r < 0.5 else ("abort" if r < 0.75 else "handshake")
    user = f"c{n % 400}"
    node = s.node_for(n)
    token = mint_token(s.node.secret, user, ["soak"], s.token_ttl)
    s.churn_inflight += 1
    try:
        if kind == "handshake":
            await churn_mid_handshake(s, node)
            s.churn["handshake_drop"] += 1
            return
        how = s.rnd.choice(("query", "header", "frame"))
        url = node.ws_url + ("?token=" + token if how == "query" else "")
        headers = {"Authorization": "Bearer " + token} if how == "header" else None
        ws = await websockets.connect(url, extra_headers=headers, compression=None, max_size=8 * 1024 * 1024,
                                      open_timeout=15, close_timeout=10, ping_interval=None)
        try:
            want = s.rnd.choice((1, 2))
            got = 0
            session_id = None

            async def session():
                nonlocal got, session_id
                if how == "frame":
                    await ws.send(json.dumps({"type": "auth", "token": token, "channels": [ROOM]}))
                else:
                    await ws.send(json.dumps({"type": "subscribe", "id": 7, "channel": ROOM}))
                authed = acked = False
                async for raw in ws:
                    f = json.loads(raw)
                    t = f.get("type")
                    if t == "auth_success":
                        authed = True
                        session_id = f.get("session_id")
                        if how == "frame":
                            if ROOM not in f.get("channels", []):
                                raise RuntimeError(f"auth frame did not join {ROOM}: {f}")
                            acked = True
                    elif t == "ack":
                        acked = True
                    elif t == "message" and f.get("channel") == ROOM:
                        got += 1
                        if got >= want:
                            return
                    elif t == "error":
                        raise RuntimeError(f"error frame {f}")
                raise RuntimeError(f"closed by the node (code {ws.close_code}, authed={authed}, acked={acked})")

            await asyncio.wait_for(session(), 20)
            if kind == "clean":
                local = ws.transport.get_extra_info("sockname")
                began = time.monotonic()
                await asyncio.wait_for(ws.close(), 15)
                if ws.close_code != 1000:
                    # Enough to find this connection in the node's log (its session id) and to tell a
                    # close frame that never came from a connection that ended early.
                    raise RuntimeError(
                        f"clean close ended with code {ws.close_code}: {node.tag}session={session_id} "
                        f"local_port={local[1] if local else None} close_took={time.monotonic() - began:.3f}s "
                        f"close_sent={ws.close_sent} close_rcvd={ws.close_rcvd} "
                        f"transfer_error={ws.transfer_data_exc!r}")
                s.churn["clean_close"] += 1
            else:
                rst = s.rnd.random() < 0.5
                if rst:
                    sock = ws.transport.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                ws.transport.abort()
                s.churn["abort_rst" if rst else "abort_fin"] += 1
        finally:
            if ws.transport is not None and not ws.transport.is_closing():
                ws.transport.abort()
    except asyncio.CancelledError:
        raise
    except Exception as e:  # noqa: BLE001
        s.churn["error"] += 1
        s.error("churn", f"{kind}: {type(e).__name__}: {e}")
    finally:
        s.churn_inflight -= 1


async def churn_mid_handshake(s, node):
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", node.port)), 10)
        variant = s.rnd.choice(("nothing", "partial", "unread_upgrade"))
        if variant == "partial":
            await loop.sock_sendall(sock, b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgr")
        elif variant == "unread_upgrade":
            key = base64.b64encode(os.urandom(16)).decode()
            await loop.sock_sendall(sock, (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{node.port}\r\n"
                                           f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        await asyncio.sleep(s.rnd.random() * 0.2)
        if s.rnd.random() < 0.5:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()


async def churn_spawner(soak):
    s = soak
    tasks = set()
    interval = 1.0 / s.args.churn_rate
    nxt = now()
    n = 0
    while not s.stop_load.is_set():
        if s.churn_inflight >= s.args.churn_max_inflight:
            s.churn["skipped_overload"] += 1
        else:
            t = asyncio.create_task(churn_client(s, n))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
            n += 1
        nxt += interval
        delay = nxt - now()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -1:
            nxt = now()
    if tasks:
        done, pending = await asyncio.wait(tasks, timeout=25)
        for t in pending:
            t.cancel()
            s.error("churn", "churn client still running at the end of the load")


# ------------------------------------------------------------------------------------- slow consumers

def tcp_state(sock):
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
        return info[0]
    except OSError:
        return None


async def slow_consumer(soak, n, deadline_s):
    """Subscribes, then never reads; returns once the node cut it or deadline_s passed."""
    s = soak
    loop = asyncio.get_running_loop()
    user = f"s{n}"
    node = s.node_for(n)
    s.slow_node[user] = node
    token = mint_token(s.node.secret, user, ["soak", "soak-flood"], s.token_ttl)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    stalled = False
    s.slow_started += 1
    try:
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", node.port)), 10)
        key = base64.b64encode(os.urandom(16)).decode()
        await loop.sock_sendall(sock, (f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{node.port}\r\n"
                                       f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                       f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        buf = b""

        async def recv_some():
            data = await asyncio.wait_for(loop.sock_recv(sock, 4096), 15)
            if not data:
                raise RuntimeError("closed during set-up")
            return data

        while b"\r\n\r\n" not in buf:
            buf += await recv_some()
        head, buf = buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"upgrade refused: {head[:100]!r}")
        await loop.sock_sendall(sock, ws_client_frame(json.dumps({"type": "subscribe", "id": 1, "channel": ROOM})))
        await loop.sock_sendall(sock, ws_client_frame(json.dumps({"type": "subscribe", "id": 2, "channel": FLOOD})))
        acks = set()
        while len(acks) < 2:
            frames, buf = ws_parse_server_frames(buf)
            for op, payload in frames:
                if op == 0x1:
                    f = json.loads(payload)
                    if f.get("type") == "ack":
                        acks.add(f.get("id"))
                    elif f.get("type") == "error":
                        raise RuntimeError(f"error frame {f}")
                elif op == 0x8:
                    raise RuntimeError(f"closed during set-up: {payload[:2].hex()} {payload[2:]!r}")
            if len(acks) < 2:
                buf += await recv_some()
        # From here on: never read again.
        stalled = True
        s.slow_active += 1
        t0 = now()
        s.slow_stalled_at[user] = t0
        while now() - t0 < deadline_s:
            st = tcp_state(sock)
            if st is not None and st != 1:
                s.slow_cut_at[user] = now()
                s.slow_cut.append((now() - t0, TCP_STATES.get(st, str(st))))
                return
            await asyncio.sleep(0.25)
        s.slow_not_cut += 1
        s.error("slow_not_cut", f"{node.tag}{user}: still {TCP_STATES.get(tcp_state(sock), '?')} {deadline_s:.0f} s "
                                f"after it stopped reading")
    except asyncio.CancelledError:
        raise
    except Exception as e:  # noqa: BLE001
        s.error("slow_setup", f"{node.tag}{user}: {type(e).__name__}: {e}")
    finally:
        if stalled:
            s.slow_active -= 1
        sock.close()


async def presence_watch(soak, interval=0.25):
    """When each stalled consumer leaves room:soak-flood's presence: the node closed it (its 4009), which
    comes before the cut. Only slow consumers are on that room. In a cluster each consumer is judged only
    by the answer of the node it is on: presence leaves out a member that does not answer within 2 s, and a
    node's answer always has its own sessions, so a busy peer cannot make a consumer look gone early."""
    s = soak
    last_seen = {}
    while not s.stop_flood.is_set():
        pending = {s.slow_node[u] for u in s.slow_stalled_at if u not in s.slow_left_at}
        if s.slow_active > 0 or pending:
            for node in (s.nodes if len(s.nodes) == 1 else [n for n in s.nodes if n in pending]):
                t = now()
                try:
                    status, body = await asyncio.to_thread(node.http, "GET", "/api/presence/" + FLOOD)
                    users = set(json.loads(body).get("users", [])) if status == 200 else None
                except Exception:  # noqa: BLE001
                    users = None
                if users is not None:
                    for u in users:
                        if s.slow_node.get(u) is node:
                            last_seen[u] = t
                    for u in list(s.slow_stalled_at):
                        if s.slow_node.get(u) is node and u not in users and u not in s.slow_left_at \
                                and u in last_seen:
                            s.slow_left_at[u] = (last_seen[u], t)
        await asyncio.sleep(interval)


async def slow_spawner(soak):
    s = soak
    tasks = set()
    n = 0
    await asyncio.sleep(min(5.0, s.args.slow_interval))
    while not s.stop_load.is_set():
        t = asyncio.create_task(slow_consumer(s, n, s.args.slow_cut_timeout))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
        n += 1
        until = now() + s.args.slow_interval
        while not s.stop_load.is_set() and now() < until:
            await asyncio.sleep(0.25)
    return tasks


# -------------------------------------------------------------------------------------- per-IP probe

async def ip_slot_probe(soak, limit):
    """Opens limit + 1 sessions from 127.0.0.1 (distinct users): (admitted, close code of the one refused)."""
    s = soak
    held = []
    refused = []

    async def one(i):
        token = mint_token(s.node.secret, f"p{i}", ["soak"], 600)
        try:
            ws = await websockets.connect(s.ws_url + "?token=" + token, compression=None, open_timeout=20,
                                          close_timeout=5, ping_interval=None)
        except Exception as e:  # noqa: BLE001
            refused.append(f"{type(e).__name__}")
            return
        held.append(ws)
        try:
            f = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if f.get("type") != "auth_success":
                refused.append(f"frame {f.get('type')}")
        except websockets.ConnectionClosed as e:
            refused.append(e.code)
        except asyncio.TimeoutError:
            refused.append("timeout")

    try:
        for start in range(0, limit, 50):
            await asyncio.gather(*(one(i) for i in range(start, min(limit, start + 50))))
        admitted = limit - len(refused)
        await asyncio.sleep(0.5)
        before = len(refused)
        await one(limit)
        if len(refused) > before:
            last = refused[-1]
        else:
            admitted += 1
            last = "nothing (admitted)"
        return admitted, last
    finally:
        await asyncio.gather(*(asyncio.wait_for(ws.close(), 10) for ws in held), return_exceptions=True)


# -------------------------------------------------------------------------------------------- driver

class Sampler:
    """One entry per node in every list (a one-node run has lists of one)."""

    def __init__(self, soak):
        self.soak = soak
        self.nodes = soak.nodes
        k = len(self.nodes)
        self.rss_peak = [0] * k
        self.fds_peak = [0] * k
        self.sessions_peak = [0] * k
        self.metrics = [{} for _ in range(k)]
        self.metrics_at = None
        self.rss = [None] * k
        self.fds = [None] * k
        self.cpu0 = self.cpu()
        self.t0 = now()
        self.stop = False

    async def run(self, interval=1.0):
        """Samples once a second: peaks, and when each slow consumer was dropped (its 4009)."""
        while not self.stop:
            await self.sample()
            await asyncio.sleep(interval)

    @staticmethod
    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    async def sample(self):
        for i, node in enumerate(self.nodes):
            rss, fds = proc_status(node.proc.pid)
            self.rss[i], self.fds[i] = rss, fds
            try:
                self.metrics[i] = await asyncio.to_thread(node.metrics)
            except Exception as e:  # noqa: BLE001
                if node.alive():
                    self.soak.error("metrics", f"{node.tag}{type(e).__name__}: {e}")
            if rss:
                self.rss_peak[i] = max(self.rss_peak[i], rss)
            if fds:
                self.fds_peak[i] = max(self.fds_peak[i], fds)
            sessions = self.metrics[i].get("switchboard_connections")
            if sessions is not None:
                self.sessions_peak[i] = max(self.sessions_peak[i], int(sessions))

    def total(self, name):
        return sum(m.get(name, 0) for m in self.metrics)

    def client_cpu_share(self):
        el = now() - self.t0
        return (self.cpu() - self.cpu0) / el if el > 0 else 0.0


def per_node(values, fmt=str):
    """One value per node, as one field: "24" for one node, "24/31" for two."""
    return "/".join(fmt(v) for v in values)


def sessions_str(v):
    return "?" if v is None else str(int(v))


def progress_line(soak, sampler, started):
    s = soak
    sessions = [m.get("switchboard_connections") for m in sampler.metrics]
    got_room = sum(h.room_received for h in s.healthy)
    got_direct = sum(h.direct_received for h in s.healthy)
    return (f"[{now() - started:6.0f}s] rss={per_node(sampler.rss, mib)} fds={per_node(sampler.fds)} "
            f"sessions={per_node(sessions, sessions_str)} "
            f"room_pub={s.room_published} (large {s.large_published}) direct_pub={s.direct_published} "
            f"recv room={got_room} direct={got_direct} "
            f"node_delivered={int(sampler.total('switchboard_messages_delivered_total'))} "
            f"churn={sum(v for k, v in s.churn.items() if k not in ('error', 'skipped_overload'))} "
            f"slow={s.slow_started}/cut {len(s.slow_cut)} 4009s={int(sampler.total(K4009))} "
            f"errors={s.total_errors()} client_cpu={sampler.client_cpu_share() * 100:.0f}%")


async def poll_until(predicate, timeout_s, interval=0.5):
    deadline = now() + timeout_s
    while now() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(interval)
    return await predicate()


async def run_soak(args, nodes, reasons, facts):
    s = Soak(args, nodes)
    RUNNING.append(s)
    sampler = Sampler(s)
    out = print

    # Baseline: every node has started (and, in a cluster, sees all members), nothing connected.
    await asyncio.sleep(2)
    fd_base, m0, rss_base = [], [], []
    for node in nodes:
        fd_base.append(proc_status(node.proc.pid)[1])
        m0.append(await asyncio.to_thread(node.metrics))
        rss_base.append(proc_status(node.proc.pid)[0])
    facts["_fd_baseline"] = fd_base
    facts["_rss_baseline"] = rss_base
    out(f"baseline: fds={per_node(fd_base)} rss={per_node(rss_base, mib)} "
        f"sessions={per_node((m.get('switchboard_connections', -1) for m in m0), sessions_str)}")

    # 1. Healthy subscribers, ramped at ~40/s.
    t_ramp = now()
    for i in range(args.subscribers):
        h = Healthy(s, i)
        s.healthy.append(h)
        h.task = asyncio.create_task(h.run())
        await asyncio.sleep(1.0 / 40)
    await asyncio.wait_for(asyncio.gather(*(h.ready.wait() for h in s.healthy)), 120)
    ok = [h for h in s.healthy if not h.failed]
    s.healthy_users = [h.user for h in ok]
    out(f"{len(ok)}/{args.subscribers} healthy subscribers ready in {now() - t_ramp:.1f} s "
        f"({sum(h.deflate for h in s.healthy)} with permessage-deflate)")

    # 2. Load.
    started = now()
    end_at = started + args.minutes * 60
    sampler.t0, sampler.cpu0 = now(), sampler.cpu()
    publishers = [RoomPublisher(s), DirectPublisher(s)]
    flood = FloodPublisher(s)
    for p in publishers + [flood]:
        p.start()
    churn_task = asyncio.create_task(churn_spawner(s))
    slow_task = asyncio.create_task(slow_spawner(s))
    sampler_task = asyncio.create_task(sampler.run())
    presence_task = asyncio.create_task(presence_watch(s))
    next_progress = started + args.progress
    while now() < end_at:
        await asyncio.sleep(min(1.0, max(0.0, end_at - now())))
        dead = [n for n in nodes if not n.alive()]
        if dead:
            reasons.extend(f"{n.name} died during the load (exit code {n.proc.returncode})" for n in dead)
            break
        if now() >= next_progress:
            next_progress += args.progress
            out(progress_line(s, sampler, started), flush=True)
    load_s = now() - started
    facts["load s"] = load_s
    facts["client_cpu"] = sampler.client_cpu_share()

    # 3. Drain, bounded.
    drain_start = now()
    out(f"load done after {load_s:.0f} s; draining (at most {DRAIN_BUDGET_S:.0f} s)")
    s.stop_load.set()
    await churn_task
    slow_tasks = await slow_task
    if slow_tasks:   # let stalled consumers be cut (the flood keeps going for them)
        done, pending = await asyncio.wait(slow_tasks, timeout=min(args.slow_cut_timeout + 5, 50))
        for t in pending:
            t.cancel()
    await asyncio.sleep(1.5)   # one more sample for the last 4009
    sampler.stop = True
    await sampler_task
    s.stop_publish.set()
    s.stop_flood.set()
    await presence_task
    for p in publishers + [flood]:
        await asyncio.to_thread(p.join, 20)
        if p.is_alive():
            reasons.append(f"{p.name} did not stop")

    async def all_caught_up():
        return all(h.failed or h.caught_up() for h in s.healthy)
    if not await poll_until(all_caught_up, 20):
        out("some healthy subscribers had not caught up after 20 s")
    for h in s.healthy:
        h.final_check()
    await asyncio.gather(*(h.close() for h in s.healthy))
    await asyncio.wait([h.task for h in s.healthy], timeout=15)
    facts["_client_close_s"] = now() - drain_start

    fd_slack = 20
    state = [{} for _ in nodes]

    async def settled():
        ok = True
        for i, node in enumerate(nodes):
            rss, fds = proc_status(node.proc.pid)
            try:
                m = await asyncio.to_thread(node.metrics)
            except Exception:  # noqa: BLE001
                return False
            state[i].update(rss=rss, fds=fds, metrics=m)
            ok = ok and m.get("switchboard_connections") == 0 and fds is not None \
                and abs(fds - fd_base[i]) <= fd_slack
        return ok
    async def no_sessions():
        try:
            for node in nodes:
                if (await asyncio.to_thread(node.metrics)).get("switchboard_connections") != 0:
                    return False
            return True
        except Exception:  # noqa: BLE001
            return False
    # Per-IP slots: with every session gone, exactly --ip-limit connections from 127.0.0.1 must be admitted.
    if await poll_until(no_sessions, max(10.0, DRAIN_BUDGET_S - 30 - (now() - drain_start))):
        admitted, refused_code = await ip_slot_probe(s, args.ip_limit)
        facts["per-IP slot probe"] = f"{admitted} of limit {args.ip_limit} admitted, next refused with {refused_code}"
        if admitted != args.ip_limit or refused_code != 4029:
            reasons.append(f"{s.node.tag}per-IP connection slots leaked: with no session open, {admitted} connections "
                           f"from 127.0.0.1 were admitted (limit {args.ip_limit}, so {args.ip_limit - admitted} slots "
                           f"are held by connections that are gone); the next one got {refused_code}")
    else:
        reasons.append("sessions did not reach 0 before the per-IP slot probe")
    budget = max(10.0, DRAIN_BUDGET_S - (now() - drain_start))
    settled_ok = await poll_until(settled, budget, interval=1.0)
    drain_s = now() - drain_start
    facts["drain s (load stop to sessions 0 and fds at baseline)"] = drain_s
    ms = [st.get("metrics", {}) for st in state]
    facts["_fds_end"] = [st.get("fds") for st in state]
    facts["_rss_end"] = [st.get("rss") for st in state]
    facts["_sessions_end"] = [m.get("switchboard_connections") for m in ms]
    if not settled_ok:
        for i, node in enumerate(nodes):
            m, st = ms[i], state[i]
            if m.get("switchboard_connections") != 0:
                reasons.append(f"{node.tag}switchboard_connections is {m.get('switchboard_connections')} (not 0) "
                               f"{drain_s:.0f} s after every client closed")
            if st.get("fds") is None or abs(st["fds"] - fd_base[i]) > fd_slack:
                reasons.append(f"{node.name} fds {st.get('fds')} not back to baseline {fd_base[i]} (+-{fd_slack}) "
                               f"{drain_s:.0f} s after every client closed")
    for node in nodes:
        if not node.alive():
            reasons.append(f"{node.name} is not alive at the end (exit code {node.proc.returncode})")

    # 4. Verdict on the clients. Counters are summed over the nodes.
    def d(name, only=None):
        return sum(ms[i].get(name, 0) - m0[i].get(name, 0) for i in range(len(nodes)) if only in (None, i))

    def each(fn):
        """fn(i) for the one node, or "node 1: ...; node 2: ..."."""
        return fn(0) if len(nodes) == 1 else "; ".join(f"{n.name}: {fn(i)}" for i, n in enumerate(nodes))
    slow_4009 = d('switchboard_disconnects_total{code="4009"}')
    if s.slow_started == 0:
        reasons.append("no slow consumer ran (run longer than --slow-interval)")
    if len(s.slow_cut) != s.slow_started:
        reasons.append(f"{s.slow_started} slow consumers, {len(s.slow_cut)} cut by the node")
    if int(slow_4009) != len(s.slow_cut):
        others = collections.Counter()
        for node in nodes:
            with open(node.log_path, errors="replace") as f:
                for line in f:
                    if "event=disconnect" in line and "code=4009" in line:
                        u = re.search(r"user=(\S+)", line)
                        if u and not u.group(1).startswith("s"):
                            others[u.group(1)[0]] += 1
        who = {"c": "churn clients (they leave after 1-2 messages; none reads slowly)", "h": "healthy subscribers"}
        per = "" if len(nodes) == 1 else " (per node " + per_node(
            (d(K4009, i) for i in range(len(nodes))), lambda v: f"{v:.0f}") + ")"
        reasons.append(f"{len(s.slow_cut)} slow consumers cut but switchboard_disconnects_total{{code=\"4009\"}} "
                       f"rose by {slow_4009:.0f}{per}; node log{'s' if len(nodes) > 1 else ''}: 4009 disconnects of "
                       + (", ".join(f"{n} {who.get(k, k)}" for k, n in others.items()) or "nobody else"))
    # From the node's close (the consumer leaves presence) to the cut the client sees: the close grace.
    # Worst case from the last poll that still listed it (0.25 s polls), so an upper bound.
    grace_lat = [s.slow_cut_at[u] - s.slow_left_at[u][0] for u in s.slow_cut_at if u in s.slow_left_at]
    late = [x for x in grace_lat if x > args.close_grace + 3]
    if late:
        reasons.append(f"{len(late)} slow consumers cut more than close grace {args.close_grace:g} s + 3 s after "
                       f"the node closed them (worst {max(late):.1f} s)")
    if s.large_published == 0:
        reasons.append("no large message was published (run longer than --large-interval)")
    for cat, n in s.errors.items():
        reasons.append(f"{n} x {cat}: " + " | ".join(s.error_samples[cat][:3]))

    got_room = sum(h.room_received for h in s.healthy)
    got_direct = sum(h.direct_received for h in s.healthy)
    cut_times = sorted(t for t, _ in s.slow_cut)
    keys = list(dict.fromkeys(k for m in ms for k in m))
    codes = {k.split('"')[1]: int(d(k)) for k in keys if k.startswith("switchboard_disconnects_total{")}
    connects = {k.split('"')[1]: int(d(k)) for k in keys if k.startswith("switchboard_connects_total{")}
    drops = {k.split('"')[1]: int(d(k)) for k in keys if k.startswith("switchboard_messages_dropped_total{")}
    facts.update({
        "healthy": f"{len(s.healthy)} ({sum(1 for h in s.healthy if h.failed)} failed, "
                   f"{sum(h.deflate for h in s.healthy)} deflate)",
        "room published": f"{s.room_published} ({s.large_published} large of {args.large_size} B, "
                          f"{len(s.room_failed)} failed)",
        "direct published": f"{s.direct_published} ({sum(len(v) for v in s.direct_failed.values())} failed)",
        "healthy received": f"room {got_room}, direct {got_direct}",
        "node delivered": f"{int(d('switchboard_messages_delivered_total'))} frames",
        "churn": ", ".join(f"{k} {v}" for k, v in sorted(s.churn.items())),
        "slow consumers": f"{s.slow_started} started, {len(s.slow_cut)} cut "
                          f"({', '.join(f'{k} {v}' for k, v in collections.Counter(st for _, st in s.slow_cut).items())}), "
                          f"stalled->cut s min/median/max "
                          + (f"{cut_times[0]:.1f}/{cut_times[len(cut_times) // 2]:.1f}/{cut_times[-1]:.1f}"
                             if cut_times else "-")
                          + f"; close->cut s (upper bound) min/median/max "
                          + (f"{min(grace_lat):.1f}/{sorted(grace_lat)[len(grace_lat) // 2]:.1f}/{max(grace_lat):.1f}"
                             if grace_lat else "-")
                          + f"; flood messages {s.flood_published}",
        "node connects": connects,
        "node disconnects": {k: v for k, v in codes.items() if v},
        "node drops": {k: v for k, v in drops.items() if v},
        "rss": each(lambda i: f"baseline {mib(rss_base[i])}, peak {mib(sampler.rss_peak[i])}, "
                              f"end {mib(facts['_rss_end'][i])}"),
        "fds": each(lambda i: f"baseline {fd_base[i]}, peak {sampler.fds_peak[i]}, end {facts['_fds_end'][i]}"),
        "sessions": each(lambda i: f"peak {sampler.sessions_peak[i]}, end {facts['_sessions_end'][i]}"),
    })


LOG_ERROR = re.compile(r"level=ERROR|\"level\":\"ERROR\"|\bERROR\b")
LOG_TRACE = re.compile(r"^\s+at [\w$.]+\(|(\\n|\\t)\s*at [\w$.]+\(|^Exception in thread|^Caused by:|"
                       r"^[\w$.]+(Exception|Error)(: |$)")


def signature(line):
    """A log line without its time stamp, ids, hashes and lambda names, cut short: for grouping."""
    line = re.sub(r"^ts=\S+ ", "", line)
    line = re.sub(r"stack=.*", "", line)
    line = re.sub(r"(@|0x|\$\$Lambda\$?)[0-9a-fA-F/x$]+", r"\1_", line)
    line = re.sub(r"(session|user|ip|id)=\S+", r"\1=_", line)
    return line[:220]


def scan_log(path, allow):
    """(bad: signature -> [count, first line], allowed: signature -> count, warn: event -> count)."""
    bad, allowed = collections.OrderedDict(), collections.Counter()
    warn = collections.Counter()
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if LOG_ERROR.search(line) or LOG_TRACE.search(line):
                sig = signature(line)
                if any(a.search(line) for a in allow):
                    allowed[sig] += 1
                else:
                    bad.setdefault(sig, [0, line])[0] += 1
            elif "level=WARN" in line:
                ev = re.search(r"event=(\S+)", line)
                warn[ev.group(1) if ev else signature(line)[:100]] += 1
    return bad, allowed, warn


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jar", default="target/switchboard.jar")
    ap.add_argument("--transport", default="auto", choices=["auto", "io_uring", "epoll", "nio"])
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--java", default="java")
    ap.add_argument("--subscribers", type=int, default=300)
    ap.add_argument("--room-rate", type=float, default=20.0, help="room messages/s")
    ap.add_argument("--direct-rate", type=float, default=50.0, help="direct messages/s")
    ap.add_argument("--churn-rate", type=float, default=20.0, help="churn connections/s")
    ap.add_argument("--churn-max-inflight", type=int, default=200)
    ap.add_argument("--slow-interval", type=float, default=10.0, help="s between slow consumers")
    ap.add_argument("--slow-cut-timeout", type=float, default=45.0,
                    help="s a stalled consumer may stay connected before that is an error")
    ap.add_argument("--flood-rate", type=float, default=20.0, help="32 KiB flood messages/s while one is stalled")
    ap.add_argument("--large-interval", type=float, default=20.0, help="s between large room messages")
    ap.add_argument("--large-size", type=int, default=200_000)
    ap.add_argument("--deflate-share", type=float, default=0.1,
                    help="share of healthy subscribers that offer permessage-deflate")
    ap.add_argument("--progress", type=float, default=30.0, help="s between progress lines")
    ap.add_argument("--ip-limit", type=int, default=None,
                    help="limits.connections_per_ip for the node (default subscribers + 100); at the end exactly "
                         "this many sessions from 127.0.0.1 must be admitted (no leaked slot)")
    ap.add_argument("--close-grace", type=float, default=10.0,
                    help="the node's close grace, s (min(session.heartbeat, 10 s)): 4009 to cut may take this + 3 s")
    ap.add_argument("--allow-log", action="append", default=[], metavar="REGEX",
                    help="tolerate ERROR/stack-trace log lines matching REGEX (a known issue); repeatable; "
                         "they are still listed in the summary")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--nodes", type=int, default=1, choices=[1, 2, 3],
                    help="cluster members to start from the jar (Hazelcast on 127.0.0.1); 1: one standalone node")
    args = ap.parse_args()
    if args.ip_limit is None:
        args.ip_limit = args.subscribers + 100
    if not os.path.isfile(args.jar):
        sys.exit(f"soak: no jar at {args.jar} (build it: mvn -B -q package -DskipTests)")
    args.jar = os.path.abspath(args.jar)   # the node runs in the temp dir

    workdir = tempfile.mkdtemp(prefix="switchboard-soak-")
    nodes = make_nodes(args, workdir)
    multi = len(nodes) > 1
    reasons, facts = [], {}
    hard_deadline = args.minutes * 60 + DRAIN_BUDGET_S + 180   # start-up, ramp, drain: never hang
    # JVMs starting together share the 2 cores: each one more than the first slows the others' start-up.
    ready_timeout = 90.0 if not multi else 60.0 + 30.0 * len(nodes)

    def on_signal(signum, frame):
        for s in RUNNING:   # let the publisher threads end at once
            s.stop_load.set()
            s.stop_publish.set()
            s.stop_flood.set()
        for n in nodes:   # begin stopping the nodes now, not after the clients' clean-up
            if n.alive():
                n.proc.send_signal(signal.SIGTERM)
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    t_start = now()
    interrupted = False
    alive_before_stop, codes = {}, {}
    try:
        if not multi:
            node = nodes[0]
            pid = node.start()
            print(f"soak: node pid {pid}, port {node.port}, transport {args.transport}, log {node.log_path}", flush=True)
            ready = {node: node.wait_ready()}
        else:
            # All at once, as a rolling restart or a fresh deployment would: the join must cope with it.
            for n in nodes:
                n.start()
                print(f"soak: {n.name} pid {n.proc.pid}, port {n.port}, hazelcast {n.cluster_port}, "
                      f"transport {args.transport}, log {n.log_path}", flush=True)
            print(f"soak: cluster {nodes[0].cluster_name} of {len(nodes)}, members {nodes[0].cluster_members}; "
                  f"waiting (at most {ready_timeout:.0f} s) for every node ready with members={len(nodes)}", flush=True)
            ready = wait_cluster_ready(nodes, ready_timeout)
            facts["nodes"] = f"{len(nodes)} in cluster {nodes[0].cluster_name} (ports " + \
                ", ".join(f"{n.port}/hazelcast {n.cluster_port}" for n in nodes) + ")"
        transports = []
        for n in nodes:
            with open(n.log_path, errors="replace") as f:
                tr = re.search(r"transport=(\S+)", f.read())
            transports.append(tr.group(1) if tr else "?")
            print(f"soak: {n.name} ready {ready[n]} transport={transports[-1]}", flush=True)
            if args.transport != "auto" and transports[-1] != args.transport:
                reasons.append(f"{n.name} runs transport {transports[-1]}, asked for {args.transport}")
        facts["node transport"] = per_node(transports)
        asyncio.run(asyncio.wait_for(run_soak(args, nodes, reasons, facts), hard_deadline))
    except KeyboardInterrupt as e:
        interrupted = True
        reasons.append(f"interrupted ({e or 'Ctrl-C'})")
    except asyncio.TimeoutError:
        reasons.append(f"soak did not finish within its hard deadline of {hard_deadline:.0f} s")
    except Exception as e:  # noqa: BLE001
        reasons.append(f"soak failed: {type(e).__name__}: {e}")
    finally:
        # One after the other, as a rolling stop: each drains and leaves a cluster that is still whole.
        for n in nodes:
            alive_before_stop[n] = n.alive()
            codes[n] = n.stop()

    allow = [re.compile(a) for a in args.allow_log]
    for n in nodes:
        if n.proc is None:
            continue
        bad, allowed, warn = scan_log(n.log_path, allow)
        for sig, (k, first) in bad.items():
            reasons.append(f"{n.name} log: {k} x ERROR/stack-trace line: {first[:700]}")
        if allowed:
            facts[f"{n.name} log lines allowed by --allow-log"] = dict(allowed)
        facts[f"{n.name} log WARN lines (no stack trace)"] = dict(warn) or "none"
        facts[f"{n.name} exit"] = (f"{codes[n]} after SIGTERM" if alive_before_stop[n]
                                   else f"{codes[n]} (had exited before the end)")

    print()
    print(f"=== soak summary: transport {args.transport}, {args.minutes:g} min, "
          + (f"{len(nodes)} nodes, " if multi else "") + f"{now() - t_start:.0f} s in all ===")
    for k, v in facts.items():
        if k.startswith("_"):
            continue
        if isinstance(v, float):
            v = f"{v:.1f}" if k != "client_cpu" else f"{v * 100:.0f}% of one core"
        print(f"  {k}: {v}")
    for n in nodes:
        print(f"  {n.name} log: {n.log_path}")
    if reasons:
        print("FAIL:")
        for r in reasons:
            print("  - " + r)
        sys.exit(130 if interrupted else 1)
    if multi:
        print(f"PASS: {len(nodes)}-node cluster: nothing lost or reordered, every slow consumer cut with 4009, "
              "sessions 0 and fds back to baseline on every node, every node alive, logs clean")
    else:
        print("PASS: nothing lost or reordered, every slow consumer cut with 4009, sessions 0, fds back to baseline, "
              "node alive, log clean")
    sys.exit(0)


if __name__ == "__main__":
    main()
