#!/usr/bin/env bash
# Memory per key against Redis, side by side: RSS growth (and used_memory)
# after loading the same keys with `redis-cli --pipe` into each server.
#
#   tools/memory_vs_redis.sh [N] [SHAPES...]
#
# N keys (default 1000000) for each shape KEYLEN:VALUELEN (default
# "10:100 16:16"). Persistence is off on both (the AOF's buffers are not
# data). Prints one row per shape: bytes per key of RSS growth and of
# used_memory for Redis 7 and shardcache, and the ratio. SC_ARGS adds flags
# to shardcache (e.g. SC_ARGS="--shards 1"). Strings only: collections
# (small and big lists, sorted sets, hashes, sets) are measured the same
# way by tools/memory_collections_vs_redis.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
shift || true
SHAPES=${*:-"10:100 16:16"}
RPORT=${RPORT:-7410}
SPORT=${SPORT:-7411}
SC=${SC:-target/release/shardcache}
[ -x "$SC" ] || cargo build --release --bin shardcache >/dev/null
work=$(mktemp -d)
cleanup() {
  redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1 || true
  [ -n "${scpid:-}" ] && kill "$scpid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
used_memory() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}'; }

# The keys and values, as RESP SET commands: keys `k` + zero-padded index,
# values pseudo-random letters (the same stream for both servers).
gen() {
  python3 - "$N" "$1" "$2" >"$3" <<'EOF'
import sys, random
n, klen, vlen = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(42)
letters = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
pool = bytes(rnd.choice(letters) for _ in range(1 << 16))
out = sys.stdout.buffer
digits = klen - 1
buf = []
for i in range(n):
    k = b"k" + str(i).zfill(digits).encode()
    off = (i * 7919) % ((1 << 16) - vlen)
    v = pool[off:off + vlen]
    buf.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
    if len(buf) == 10000:
        out.write(b"".join(buf)); buf = []
out.write(b"".join(buf))
EOF
}

measure() { # port pid file -> "rss_bytes_per_key used_bytes_per_key"
  local port=$1 pid=$2 file=$3
  sleep 1
  local r0 u0 r1 u1
  r0=$(rss_kb "$pid"); u0=$(used_memory "$port")
  redis-cli -p "$port" --pipe <"$file" >/dev/null
  # Let background work (index rebuilds, trims) settle.
  sleep 2
  r1=$(rss_kb "$pid"); u1=$(used_memory "$port")
  local keys
  keys=$(redis-cli -p "$port" dbsize)
  [ "$keys" = "$N" ] || { echo "loaded $keys keys, expected $N" >&2; exit 1; }
  python3 -c "print('%.1f %.1f' % (($r1-$r0)*1024/$N, ($u1-$u0)/$N))"
}

printf '%-10s %12s %12s %12s %12s %8s\n' shape redis_rss sc_rss redis_used sc_used rss_ratio
for shape in $SHAPES; do
  klen=${shape%%:*}
  vlen=${shape##*:}
  gen "$klen" "$vlen" "$work/data.resp"
  redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --logfile "$work/redis.log" --dir "$work"
  sleep 0.5
  rpid=$(redis-cli -p "$RPORT" info server | tr -d '\r' | awk -F: '/^process_id:/ {print $2}')
  read -r rr ru < <(measure "$RPORT" "$rpid" "$work/data.resp")
  redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1 || true
  # shellcheck disable=SC2086
  "$SC" --port "$SPORT" --appendonly no --dir "$work/sc" ${SC_ARGS:-} 2>"$work/sc.log" &
  scpid=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/sc.log" && break; sleep 0.1; done
  read -r sr su < <(measure "$SPORT" "$scpid" "$work/data.resp")
  kill "$scpid"; wait "$scpid" 2>/dev/null || true; scpid=
  printf '%-10s %12s %12s %12s %12s %8s\n' "$shape" "$rr" "$sr" "$ru" "$su" \
    "$(python3 -c "print('%.2f' % ($sr/$rr))")"
done
