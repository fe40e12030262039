#!/usr/bin/env bash
# The foundation benchmark: redis-benchmark -t set,get -n N -r 1000000 -d 100
# -c 50 at -P 1 and -P 16 against Redis 7.0.15 and shardcache, both without
# persistence, alternating A B A B for RUNS rounds; prints every run and the
# medians with the shardcache/redis ratio. Usage: tools/redis_benchmark_vs_redis.sh [N] [RUNS]
# TESTS picks other tests, run one at a time in the order given
# (TESTS=sadd,hset,spop: the collections; their keys are redis-benchmark's
# fixed myset and myhash, so one shard serves each, and SPOP pops what SADD
# added). Each run also reports the server's CPU time per request (user +
# system, all its threads, from /proc): on a machine whose cores other work
# shares, that figure moves much less than the rates.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-500000}
RUNS=${2:-3}
TESTS=${TESTS:-set,get}
cargo build --release -q --bin shardcache
RD=${RD:-16479}; SC=${SC:-16480}
work=$(mktemp -d)
redis-server --port $RD --save '' --appendonly no --daemonize no >/dev/null & rpid=$!
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
./target/release/shardcache --port $SC --appendonly no --dir "$work" 2>/dev/null & spid=$!
trap 'kill $rpid $spid 2>/dev/null; rm -rf "$work"' EXIT
for p in $RD $SC; do for _ in $(seq 100); do redis-cli -p $p PING 2>/dev/null | grep -q PONG && break; sleep 0.1; done; done
out="$work/runs.csv"
for r in $(seq "$RUNS"); do
  for P in 1 16; do
    for t in ${TESTS//,/ }; do
      for srv in redis:$RD:$rpid shardcache:$SC:$spid; do
        IFS=: read -r name port pid <<<"$srv"
        c0=$(cpu_ticks "$pid")
        line=$(redis-benchmark -p "$port" -t "$t" -n "$N" -r 1000000 -d 100 -c 50 -P "$P" --csv 2>/dev/null |
          awk -F, 'NR>1 {gsub(/"/,""); print $1","$2","$5}')
        c1=$(cpu_ticks "$pid")
        us=$(python3 -c "print('%.2f' % (($c1 - $c0) * 1e6 / $hz / $N))")
        echo "$r,$name,P$P,$line,$us" | tee -a "$out"
      done
    done
  done
done
echo "# medians (requests/s, p50 ms, server CPU µs per request)"
python3 - "$out" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r, srv, p, test, rps, p50, us = line.strip().split(",")
    rows[(p, test, srv)].append((float(rps), float(p50), float(us)))
tests = list(dict.fromkeys(k[1] for k in rows))
med = lambda xs, i: statistics.median(x[i] for x in xs)
for p in ("P1", "P16"):
    for test in tests:
        rd = rows[(p, test, "redis")]; sc = rows[(p, test, "shardcache")]
        print(f"{test} {p}: redis {med(rd, 0):,.0f} rps (p50 {med(rd, 1):.3f} ms, {med(rd, 2):.2f} µs CPU), "
              f"shardcache {med(sc, 0):,.0f} rps (p50 {med(sc, 1):.3f} ms, {med(sc, 2):.2f} µs CPU), "
              f"ratio {med(sc, 0) / med(rd, 0):.2f}")
PY
