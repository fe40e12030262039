#!/usr/bin/env bash
# The foundation benchmark: redis-benchmark -t set,get -n N -r 1000000 -d 100
# -c 50 at -P 1 and -P 16 against Redis 7.0.15 and shardcache, both without
# persistence, alternating A B A B for RUNS rounds; prints every run and the
# medians with the shardcache/redis ratio. Usage: tools/redis_benchmark_vs_redis.sh [N] [RUNS]
# TESTS picks other tests (TESTS=hset,sadd,spop: the collections; their keys
# are redis-benchmark's fixed myhash and myset, so one shard serves each).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-500000}
RUNS=${2:-3}
TESTS=${TESTS:-set,get}
cargo build --release -q --bin shardcache
RD=${RD:-16479}; SC=${SC:-16480}
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
      redis-benchmark -p "$port" -t "$TESTS" -n "$N" -r 1000000 -d 100 -c 50 -P "$P" --csv 2>/dev/null |
        awk -F, -v n="$name" -v p="$P" -v r="$r" 'NR>1 {gsub(/"/,""); print r","n",P"p","$1","$2","$5}' | tee -a "$out"
    done
  done
done
echo "# medians (requests/s, p50 ms)"
python3 - "$out" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r, srv, p, test, rps, p50 = line.strip().split(",")
    rows[(p, test, srv)].append((float(rps), float(p50)))
tests = list(dict.fromkeys(k[1] for k in rows))
for p in ("P1", "P16"):
    for test in tests:
        rd = rows[(p, test, "redis")]; sc = rows[(p, test, "shardcache")]
        mr = statistics.median(x[0] for x in rd); ms = statistics.median(x[0] for x in sc)
        print(f"{test} {p}: redis {mr:,.0f} rps (p50 {statistics.median(x[1] for x in rd):.3f} ms), "
              f"shardcache {ms:,.0f} rps (p50 {statistics.median(x[1] for x in sc):.3f} ms), ratio {ms/mr:.2f}")
PY
