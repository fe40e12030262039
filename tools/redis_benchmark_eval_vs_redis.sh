#!/usr/bin/env bash
# Scripting: redis-benchmark -n N -r 100000 -c 50 EVALSHA <sha> 1
# key:__rand_int__ for a two-command script (INCR + EXPIRE) at -P 1 and
# -P 16 against Redis 7.0.15 and shardcache, both without persistence,
# alternating A B A B for RUNS rounds. Prints requests/s and the server's CPU
# time per request (utime + stime from /proc/PID/stat before and after, in
# µs), then the medians with the shardcache/redis ratio.
# Usage: tools/redis_benchmark_eval_vs_redis.sh [N] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
RUNS=${2:-3}
cargo build --release -q --bin shardcache
RD=${RD:-16493}; SC=${SC:-16494}
for p in $RD $SC; do
  if ss -ltn | grep -q ":$p "; then echo "port $p is taken" >&2; exit 1; fi
done
work=$(mktemp -d)
redis-server --port $RD --save '' --appendonly no --daemonize no >/dev/null & rpid=$!
./target/release/shardcache --port $SC --appendonly no --dir "$work" 2>/dev/null & spid=$!
trap 'kill $rpid $spid 2>/dev/null; rm -rf "$work"' EXIT
for p in $RD $SC; do for _ in $(seq 100); do redis-cli -p $p PING 2>/dev/null | grep -q PONG && break; sleep 0.1; done; done
SCRIPT="redis.call('incr', KEYS[1]) return redis.call('expire', KEYS[1], 100)"
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)
out="$work/runs.csv"
for r in $(seq "$RUNS"); do
  for P in 1 16; do
    for srv in redis:$RD:$rpid shardcache:$SC:$spid; do
      IFS=: read -r name port pid <<<"$srv"
      redis-cli -p "$port" flushall >/dev/null
      sha=$(redis-cli -p "$port" script load "$SCRIPT")
      c0=$(cpu "$pid")
      rps=$(redis-benchmark -p "$port" -n "$N" -r 100000 -c 50 -P "$P" --csv \
              EVALSHA "$sha" 1 key:__rand_int__ 2>/dev/null | awk -F, 'NR>1 {gsub(/"/,""); print $2}')
      c1=$(cpu "$pid")
      us=$(python3 -c "print(f'{($c1-$c0)/$tck*1e6/$N:.2f}')")
      echo "$r,$name,P$P,$rps,$us" | tee -a "$out"
    done
  done
done
echo "# medians (requests/s, server CPU µs per request)"
python3 - "$out" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r, srv, p, rps, us = line.strip().split(",")
    rows[(p, srv)].append((float(rps), float(us)))
for p in ("P1", "P16"):
    rd = rows[(p, "redis")]; sc = rows[(p, "shardcache")]
    mr = statistics.median(x[0] for x in rd); ms = statistics.median(x[0] for x in sc)
    print(f"EVALSHA {p}: redis {mr:,.0f} rps ({statistics.median(x[1] for x in rd):.2f} µs CPU/req), "
          f"shardcache {ms:,.0f} rps ({statistics.median(x[1] for x in sc):.2f} µs CPU/req), ratio {ms/mr:.2f}")
PY
