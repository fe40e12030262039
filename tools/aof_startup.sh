#!/usr/bin/env bash
# Startup time loading N keys (100-byte values) from the AOF: shardcache vs
# Redis (appendonly yes, aof-use-rdb-preamble no), side by side, RUNS times
# each, alternating. Usage: [SC_ARGS="--shards 2"] tools/aof_startup.sh [N] [RUNS]
# Needs redis-server and redis-cli; builds shardcache in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
RUNS=${2:-3}
SC_ARGS=${SC_ARGS:-}
cargo build --release -q --bin shardcache
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# The same N SET commands for both servers.
python3 - "$N" > "$work/data.resp" <<'PY'
import sys
n = int(sys.argv[1]); v = b"v" * 100; out = sys.stdout.buffer
for i in range(n):
    k = b"key:%09d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n" % (len(k), k, v))
PY

wait_ping() { for _ in $(seq 6000); do redis-cli -p "$1" PING 2>/dev/null | grep -q PONG && return 0; sleep 0.01; done; return 1; }
ms() { date +%s%3N; }

# Fill and compact each server's AOF once.
SC_PORT=16390; RD_PORT=16391
./target/release/shardcache --port $SC_PORT --dir "$work/sc" --no-pin $SC_ARGS 2>/dev/null & pids+=($!)
wait_ping $SC_PORT
redis-cli -p $SC_PORT --pipe < "$work/data.resp" >/dev/null
# An automatic rewrite may have started during the load (it keeps the writes
# made meanwhile, so its file holds many keys twice): let it end, then
# compact once more so both servers load one record per key.
until redis-cli -p $SC_PORT BGREWRITEAOF | grep -q started; do sleep 0.2; done; sleep 1
while redis-cli -p $SC_PORT INFO persistence | grep -q "aof_rewrite_in_progress:1"; do sleep 0.2; done
redis-cli -p $SC_PORT SHUTDOWN >/dev/null 2>&1 || true
mkdir -p "$work/rd"
redis-server --port $RD_PORT --dir "$work/rd" --appendonly yes --aof-use-rdb-preamble no --save '' --daemonize no >/dev/null & pids+=($!)
wait_ping $RD_PORT
redis-cli -p $RD_PORT --pipe < "$work/data.resp" >/dev/null
redis-cli -p $RD_PORT BGREWRITEAOF >/dev/null; sleep 1
while redis-cli -p $RD_PORT INFO persistence | grep -q "aof_rewrite_in_progress:1"; do sleep 0.2; done
redis-cli -p $RD_PORT SHUTDOWN NOSAVE >/dev/null 2>&1 || true
sleep 0.5
echo "data: shardcache $(du -sb "$work/sc" | cut -f1) bytes, redis $(du -sb "$work/rd" | cut -f1) bytes"

for r in $(seq "$RUNS"); do
  t0=$(ms); ./target/release/shardcache --port $SC_PORT --dir "$work/sc" --no-pin $SC_ARGS 2>/dev/null & pid=$!; pids+=($pid)
  wait_ping $SC_PORT; t1=$(ms)
  keys=$(redis-cli -p $SC_PORT DBSIZE); redis-cli -p $SC_PORT SHUTDOWN >/dev/null 2>&1 || true; wait $pid || true
  echo "run $r shardcache: $((t1 - t0)) ms to serve, dbsize=$keys"
  t0=$(ms); redis-server --port $RD_PORT --dir "$work/rd" --appendonly yes --aof-use-rdb-preamble no --save '' >/dev/null & pid=$!; pids+=($pid)
  wait_ping $RD_PORT
  while redis-cli -p $RD_PORT INFO persistence | grep -q "^loading:1"; do sleep 0.01; done; t1=$(ms)
  keys=$(redis-cli -p $RD_PORT DBSIZE); redis-cli -p $RD_PORT SHUTDOWN NOSAVE >/dev/null 2>&1 || true; wait $pid || true
  echo "run $r redis:      $((t1 - t0)) ms to serve, dbsize=$keys"
done
