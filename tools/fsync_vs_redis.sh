#!/usr/bin/env bash
# SET throughput with the AOF on, shardcache vs Redis 7.0.15 with the same
# appendfsync, side by side: redis-benchmark -t set -c 50 -P {1,16}
# -r 1000000 -d 100 -n N. Usage: [MODES="always"] [SC_ARGS=..] tools/fsync_vs_redis.sh [N] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
RUNS=${2:-1}
cargo build --release -q --bin shardcache
RD=16579; SC=16580
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null || true; done; rm -rf "$work"' EXIT
ping_wait() { for _ in $(seq 100); do redis-cli -p "$1" PING 2>/dev/null | grep -q PONG && return; sleep 0.1; done; }
for fsync in ${MODES:-always everysec}; do
  rm -rf "$work"/*; mkdir -p "$work/rd" "$work/sc"
  redis-server --port $RD --save '' --appendonly yes --appendfsync $fsync --aof-use-rdb-preamble no --dir "$work/rd" >/dev/null & pids+=($!); rp=$!
  ./target/release/shardcache ${SC_ARGS:-} --port $SC --appendfsync $fsync --dir "$work/sc" 2>/dev/null & pids+=($!); sp=$!
  ping_wait $RD; ping_wait $SC
  for r in $(seq "$RUNS"); do
    for P in 1 16; do
      for srv in redis:$RD shardcache:$SC; do
        rps=$(redis-benchmark -p "${srv##*:}" -t set -n "$N" -r 1000000 -d 100 -c 50 -P $P --csv 2>/dev/null | awk -F, 'NR>1{gsub(/"/,""); print $2" rps p50="$5"ms p99="$7"ms"}')
        echo "appendfsync=$fsync P$P run$r ${srv%%:*}: $rps"
      done
    done
  done
  kill $rp $sp; wait $rp $sp 2>/dev/null || true
done
