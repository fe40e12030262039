#!/usr/bin/env bash
# Latency while an AOF rewrite runs, against steady state: 1M keys of 100
# bytes, then open-loop GET/SET 1:1 at RATE ops/s for 8 s (shardcache-bench,
# latency from the intended send time), with BGREWRITEAOF 2 s into every
# "rewrite" run. Usage: tools/rewrite_latency.sh [RATE]
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-20000}
cargo build --release -q -p shardcache -p shardcache-bench
W=$(mktemp -d); PORT=16600; B=./target/release/shardcache-bench
./target/release/shardcache --port $PORT --dir "$W" 2>/dev/null & pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 100); do redis-cli -p $PORT PING 2>/dev/null | grep -q PONG && break; sleep 0.1; done
$B --port $PORT --keys 1000000 --value-size 100 --ratio 0:1 --key-dist seq --requests 1000000 --pipeline 16 --connections 20 --quiet >/dev/null
echo "keys=$(redis-cli -p $PORT DBSIZE) $(redis-cli -p $PORT INFO persistence | grep aof_current_size | tr -d '\r')"
for run in steady rewrite steady rewrite; do
  trig=""
  if [ "$run" = rewrite ]; then
    ( sleep 2; redis-cli -p $PORT BGREWRITEAOF >/dev/null; t0=$(date +%s%3N)
      while redis-cli -p $PORT INFO persistence | grep -q "aof_rewrite_in_progress:1"; do sleep 0.02; done
      echo "  (rewrite took $(( $(date +%s%3N) - t0 )) ms)" ) & trig=$!
  fi
  $B --port $PORT --keys 1000000 --value-size 100 --ratio 1:1 --rate "$RATE" --duration 8s --connections 20 --quiet --json "$W/lat.json" >/dev/null
  if [ -n "$trig" ]; then wait "$trig"; fi
  python3 - "$W/lat.json" "$run" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for op, v in sorted(d["ops"].items()):
    print(f"{sys.argv[2]:8} {op}: {d['ops_per_sec']:.0f} ops/s p50={v['p50_us']}us p99={v['p99_us']}us p99.9={v['p999_us']}us max={v['max_us']}us errors={d['errors']}")
PY
done
redis-cli -p $PORT INFO persistence | grep -E "aof_current_size|aof_base_size|aof_last_bgrewrite_status" | tr -d '\r'
