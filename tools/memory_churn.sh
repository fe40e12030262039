#!/usr/bin/env bash
# Memory under churn: does shardcache give back what deletes, overwrites
# and evictions free? Two checks, each printing RSS figures:
#
#   maxmemory  --maxmemory 100mb, then 600 MB of writes of random keys with
#              sizes from 10 bytes to 100 KB (log-uniform): RSS / maxmemory.
#   rewrite    100,000 keys of random sizes (10 B to 4 KB), then every key
#              rewritten with a new random size ten times: RSS against a
#              fresh server loaded with the same final data.
#
#   tools/memory_churn.sh [maxmemory|rewrite|all]
#
# SC_ARGS adds flags to shardcache. Loopback only; bounded by the sizes above.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-all}
SC=${SC:-target/release/shardcache}
PORT=${PORT:-7412}
[ -x "$SC" ] || cargo build --release --bin shardcache >/dev/null
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

start() {
  # shellcheck disable=SC2086
  "$SC" --port "$PORT" --appendonly no --dir "$work/sc" "$@" ${SC_ARGS:-} 2>"$work/sc.log" &
  pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/sc.log" && break; sleep 0.1; done
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status"; }

# Writes keys over one pipelined connection: load.py PORT SEED MODE ...
cat >"$work/load.py" <<'PY'
import math, random, socket, sys
port, seed, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rnd = random.Random(seed)
s = socket.create_connection(("127.0.0.1", port))
blob = bytes(rnd.getrandbits(8) for _ in range(1 << 17))
pending = 0
def send(cmds):
    global pending
    s.sendall(b"".join(cmds))
    pending += len(cmds)
    drain()
def drain():
    global pending
    # Read replies until every command sent was answered (simple replies only).
    buf = b""
    while buf.count(b"\r\n") < pending:
        buf += s.recv(1 << 20)
    pending = 0
def setcmd(k, n):
    off = rnd.randrange(0, len(blob) - n)
    v = blob[off:off + n]
    return b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v)
if mode == "maxmemory":
    total, keys = 600 << 20, 200_000
    written, batch = 0, []
    while written < total:
        n = int(math.exp(rnd.uniform(math.log(10), math.log(100_000))))
        batch.append(setcmd(b"k%d" % rnd.randrange(keys), n))
        written += n
        if len(batch) == 64:
            send(batch); batch = []
    if batch: send(batch)
else:
    # ROUNDS rounds of writes to every key; the first SKIP are drawn but not
    # sent, so "11 0" churns and "11 10" loads the same final data fresh.
    keys, rounds, skip = 100_000, int(sys.argv[4]), int(sys.argv[5])
    for r in range(rounds):
        batch = []
        for i in range(keys):
            c = setcmd(b"key:%d" % i, rnd.randrange(10, 4096))
            if r < skip:
                continue
            batch.append(c)
            if len(batch) == 256:
                send(batch); batch = []
        if batch: send(batch)
PY

if [ "$MODE" = maxmemory ] || [ "$MODE" = all ]; then
  start --maxmemory 100mb
  python3 "$work/load.py" "$PORT" 1 maxmemory
  sleep 2
  used=$(redis-cli -p "$PORT" info memory | tr -d '\r' | awk -F: '/^used_memory:/ {printf "%.1f", $2/1048576}')
  rss=$(rss_mb)
  echo "maxmemory 100mb, 600 MB of mixed writes: RSS $rss MB, used_memory $used MB, RSS/maxmemory $(python3 -c "print('%.2f' % ($rss/100))")"
  stop
fi
if [ "$MODE" = rewrite ] || [ "$MODE" = all ]; then
  # The same seed draws the same values: 11 rounds churned, against only
  # the last of them loaded into a fresh server.
  start
  python3 "$work/load.py" "$PORT" 2 rewrite 11 0
  sleep 2
  churned=$(rss_mb)
  stop
  start
  python3 "$work/load.py" "$PORT" 2 rewrite 11 10
  sleep 2
  fresh=$(rss_mb)
  stop
  echo "100,000 keys rewritten 10 times with new sizes: RSS $churned MB; the same final data loaded fresh: $fresh MB; ratio $(python3 -c "print('%.2f' % ($churned/$fresh))")"
fi
