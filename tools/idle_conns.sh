#!/usr/bin/env bash
# Memory per idle connection, shardcache against redis-server, in one run.
#
# For each server (release shardcache with --appendonly no, and redis-server
# with --save '' --appendonly no): load 10,000 keys, start steady background
# traffic (shardcache-bench, 4 connections, 2,000 ops/s open loop, GET:SET
# 1:1), read VmRSS, open N idle connections (default 10,000), read VmRSS
# again once the server counts them all; then have every idle connection
# send one PING (a connection that has spoken once may keep buffers) and
# read VmRSS a third time. Prints KiB per connection for both steps.
#
# Usage: tools/idle_conns.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
# Each server and the client process hold N sockets; raise the soft limit
# (per process) as far as the hard limit allows.
want=$((N + 1024))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
  echo "the hard open-files limit ($hard) is below $want: lower N or raise it" >&2
  exit 1
fi
ulimit -n "$want"

cargo build --release -q -p shardcache -p shardcache-bench
B=./target/release/shardcache-bench
W=$(mktemp -d)
SC_PORT=16710
R_PORT=16711
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT

./target/release/shardcache --port $SC_PORT --appendonly no --dir "$W" 2>"$W/sc.log" &
pids+=($!)
sc_pid=$!
redis-server --port $R_PORT --save '' --appendonly no --maxclients $((N + 1000)) \
  --dir "$W" --logfile "$W/redis.log" &
pids+=($!)
r_pid=$!
for port in $SC_PORT $R_PORT; do
  for _ in $(seq 100); do redis-cli -p $port PING 2>/dev/null | grep -q PONG && break; sleep 0.1; done
done

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
clients() { redis-cli -p "$1" INFO clients | awk -F: '/^connected_clients:/ {print $2+0}'; }

# Opens N connections, optionally PINGs on each, and holds them until stdin closes.
cat >"$W/hold.py" <<'EOF'
import socket, sys
port, n, ping = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "ping"
conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
print("open", flush=True)
sys.stdin.readline()
if ping:
    for c in conns:
        c.sendall(b"PING\r\n")
    for c in conns:
        assert c.recv(16) == b"+PONG\r\n"
print("pinged", flush=True)
sys.stdin.readline()
EOF

measure() {
  local name=$1 port=$2 pid=$3
  $B --port "$port" --keys 10000 --value-size 100 --ratio 0:1 --key-dist seq --requests 10000 \
    --connections 4 --quiet >/dev/null
  $B --port "$port" --keys 10000 --value-size 100 --ratio 1:1 --rate 2000 --duration 60s \
    --connections 4 --quiet >/dev/null 2>&1 &
  local traffic=$!
  sleep 2
  local base; base=$(clients "$port")
  local before; before=$(rss "$pid")
  coproc HOLD { python3 "$W/hold.py" "$port" "$N" ping; }
  read -r _ <&"${HOLD[0]}"
  for _ in $(seq 200); do [ "$(clients "$port")" -ge $((base + N)) ] && break; sleep 0.1; done
  sleep 2
  local idle; idle=$(rss "$pid")
  echo >&"${HOLD[1]}"
  read -r _ <&"${HOLD[0]}"
  # Redis trims the query buffer of a client idle for more than 2 s.
  sleep 4
  local spoke; spoke=$(rss "$pid")
  echo >&"${HOLD[1]}"
  wait "$HOLD_PID" 2>/dev/null || true
  kill $traffic 2>/dev/null || true
  wait $traffic 2>/dev/null || true
  awk -v n="$N" -v name="$name" -v b="$before" -v i="$idle" -v s="$spoke" 'BEGIN {
    printf "%-11s RSS before %7d KiB, %d idle %7d KiB (%.2f KiB/conn), after one PING each %7d KiB (%.2f KiB/conn)\n",
      name, b, n, i, (i - b) / n, s, (s - b) / n }'
}

echo "$N idle connections, background traffic 2,000 ops/s on 4 connections"
measure shardcache $SC_PORT $sc_pid
measure redis $R_PORT $r_pid
