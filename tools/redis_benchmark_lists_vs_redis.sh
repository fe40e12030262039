#!/usr/bin/env bash
# Lists and sorted sets: redis-benchmark -t lpush,rpush,lpop,rpop,lrange_100,
# zadd,zpopmin -n N -c 50 at -P 1 and -P 16 against Redis 7.0.15 and
# shardcache, both without persistence, alternating A B A B for RUNS rounds;
# prints every run and the medians with the shardcache/redis ratio.
# redis-benchmark's keys are `mylist` and `myzset` (one key each, so one
# shard does each test's work); its ZADD adds a random member of -r range.
# Usage: tools/redis_benchmark_lists_vs_redis.sh [N] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
RUNS=${2:-3}
TESTS=${TESTS:-lpush,rpush,lpop,rpop,lrange_100,zadd,zpopmin}
cargo build --release -q --bin shardcache
RD=${RD:-16491}; SC=${SC:-16492}
for p in $RD $SC; do
  if ss -ltn | grep -q ":$p "; then echo "port $p is taken" >&2; exit 1; fi
done
work=$(mktemp -d)
redis-server --port $RD --save '' --appendonly no --daemonize no >/dev/null & rpid=$!
./target/release/shardcache --port $SC --appendonly no --dir "$work" 2>/dev/null & spid=$!
trap 'kill $rpid $spid 2>/dev/null; rm -rf "$work"' EXIT
for p in $RD $SC; do for _ in $(seq 100); do redis-cli -p $p PING 2>/dev/null | grep -q PONG && break; sleep 0.1; done; done
out="$work/runs.csv"
for r in $(seq "$RUNS"); do
  for P in 1 16; do
    for srv in redis:$RD shardcache:$SC; do
      name=${srv%%:*}; port=${srv##*:}
      redis-cli -p "$port" flushall >/dev/null
      redis-benchmark -p "$port" -t "$TESTS" -n "$N" -r 100000 -c 50 -P "$P" --csv 2>/dev/null |
        awk -F, -v n="$name" -v p="$P" -v r="$r" 'NR>1 {gsub(/"/,""); print r","n",P"p","$1","$2","$5}' | tee -a "$out"
    done
  done
done
echo "# medians (requests/s, p50 ms)"
python3 - "$out" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
order = []
for line in open(sys.argv[1]):
    r, srv, p, test, rps, p50 = line.strip().split(",")
    if (p, test) not in order:
        order.append((p, test))
    rows[(p, test, srv)].append((float(rps), float(p50)))
for p, test in sorted(order, key=lambda k: (k[0] != "P1", order.index(k))):
    rd = rows[(p, test, "redis")]; sc = rows[(p, test, "shardcache")]
    if not rd or not sc:
        continue
    mr = statistics.median(x[0] for x in rd); ms = statistics.median(x[0] for x in sc)
    print(f"{test} {p}: redis {mr:,.0f} rps (p50 {statistics.median(x[1] for x in rd):.3f} ms), "
          f"shardcache {ms:,.0f} rps (p50 {statistics.median(x[1] for x in sc):.3f} ms), ratio {ms/mr:.2f}")
PY
