#!/usr/bin/env bash
# Memory of hashes, sets, lists and sorted sets against Redis, side by
# side: RSS growth (and
# used_memory) after loading the same collections with `redis-cli --pipe`
# into each server.
#
#   tools/memory_collections_vs_redis.sh [SHAPES...]
#
# Shapes (default all eight):
#   smallhash  100,000 hashes of 10 fields (8-byte fields, 16-byte values)
#   smallset   100,000 sets of 10 members of 10 bytes (not integers)
#   smalllist  100,000 lists of 10 elements of 10 bytes
#   smallzset  100,000 sorted sets of 10 members of 10 bytes (integer scores)
#   bighash    10 hashes of 1,000,000 fields (8-byte fields, 16-byte values)
#   bigset     10 sets of 1,000,000 members of 10 bytes
#   biglist    10 lists of 1,000,000 elements of 10 bytes
#   bigzset    10 sorted sets of 1,000,000 members of 10 bytes (integer scores)
# Prints one row per shape: bytes per key (small shapes) or per element
# (big shapes) of RSS growth and of used_memory for Redis 7 and
# shardcache, the ratio of RSS, and the encoding Redis chose. Persistence
# is off on both. SC_ARGS adds flags to shardcache; REDIS_ONLY=1 measures
# Redis alone.
set -euo pipefail
cd "$(dirname "$0")/.."
SHAPES=${*:-"smallhash smallset smalllist smallzset bighash bigset biglist bigzset"}
RPORT=${RPORT:-7412}
SPORT=${SPORT:-7413}
SC=${SC:-target/release/shardcache}
if [ -z "${REDIS_ONLY:-}" ]; then
  [ -x "$SC" ] || cargo build --release --bin shardcache >/dev/null
fi
work=$(mktemp -d)
cleanup() {
  redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1 || true
  [ -n "${scpid:-}" ] && kill "$scpid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
used_memory() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}'; }

# The commands, as RESP: HSET/SADD/RPUSH/ZADD with many items per command.
# Prints "keys units" (units: what the per-unit figures divide by).
gen() {
  python3 - "$1" "$2" <<'EOF'
import sys
shape, path = sys.argv[1], sys.argv[2]
out = open(path, "wb")
def cmd(args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)
buf = []
def emit(args):
    buf.append(cmd(args))
    if len(buf) >= 10000:
        out.write(b"".join(buf)); buf.clear()
if shape == "smallhash":
    for i in range(100000):
        args = ["HSET", "hash:%06d" % i]
        for j in range(10):
            args += ["field:%02d" % j, "value:%010d" % (i * 10 + j)]
        emit(args)
    keys, units = 100000, 100000
elif shape == "smallset":
    for i in range(100000):
        emit(["SADD", "set:%07d" % i] + ["m:%08d" % (i * 10 + j) for j in range(10)])
    keys, units = 100000, 100000
elif shape == "bighash":
    for k in range(10):
        for b in range(0, 1000000, 100):
            args = ["HSET", "bighash:%d" % k]
            for j in range(b, b + 100):
                args += ["f%07d" % j, "value:%010d" % (k * 1000000 + j)]
            emit(args)
    keys, units = 10, 10000000
elif shape == "bigset":
    for k in range(10):
        for b in range(0, 1000000, 100):
            emit(["SADD", "bigset:%d" % k] + ["m:%08d" % (k * 1000000 + j) for j in range(b, b + 100)])
    keys, units = 10, 10000000
elif shape == "smalllist":
    for i in range(100000):
        emit(["RPUSH", "list:%06d" % i] + ["e:%08d" % (i * 10 + j) for j in range(10)])
    keys, units = 100000, 100000
elif shape == "smallzset":
    for i in range(100000):
        args = ["ZADD", "zset:%06d" % i]
        for j in range(10):
            args += [str(j), "m:%08d" % (i * 10 + j)]
        emit(args)
    keys, units = 100000, 100000
elif shape == "biglist":
    for k in range(10):
        for b in range(0, 1000000, 100):
            emit(["RPUSH", "biglist:%d" % k] + ["e:%08d" % (k * 1000000 + j) for j in range(b, b + 100)])
    keys, units = 10, 10000000
elif shape == "bigzset":
    for k in range(10):
        for b in range(0, 1000000, 100):
            args = ["ZADD", "bigzset:%d" % k]
            for j in range(b, b + 100):
                args += [str(j), "m:%08d" % (k * 1000000 + j)]
            emit(args)
    keys, units = 10, 10000000
else:
    sys.exit("unknown shape " + shape)
out.write(b"".join(buf))
print(keys, units)
EOF
}

measure() { # port pid file keys units -> "rss_per_unit used_per_unit encoding"
  local port=$1 pid=$2 file=$3 keys=$4 units=$5
  sleep 1
  local r0 u0 r1 u1 got enc
  r0=$(rss_kb "$pid"); u0=$(used_memory "$port")
  redis-cli -p "$port" --pipe <"$file" >/dev/null
  sleep 2
  r1=$(rss_kb "$pid"); u1=$(used_memory "$port")
  got=$(redis-cli -p "$port" dbsize)
  if [ "$got" != "$keys" ]; then
    echo "port $port holds $got keys, expected $keys (are HSET/SADD/RPUSH/ZADD served?)" >&2
    exit 1
  fi
  enc=$(redis-cli -p "$port" object encoding "$(redis-cli -p "$port" randomkey)")
  python3 -c "print('%.1f %.1f' % (($r1-$r0)*1024/$units, ($u1-$u0)/$units), '$enc')"
}

printf '%-10s %10s %10s %11s %11s %8s  %s\n' shape redis_rss sc_rss redis_used sc_used rss_ratio encoding
for shape in $SHAPES; do
  read -r keys units < <(gen "$shape" "$work/data.resp")
  redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --logfile "$work/redis.log" --dir "$work"
  sleep 0.5
  rpid=$(redis-cli -p "$RPORT" info server | tr -d '\r' | awk -F: '/^process_id:/ {print $2}')
  read -r rr ru renc < <(measure "$RPORT" "$rpid" "$work/data.resp" "$keys" "$units")
  redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1 || true
  sr=- su=- ratio=- senc=
  if [ -z "${REDIS_ONLY:-}" ]; then
    mkdir -p "$work/sc"
    # shellcheck disable=SC2086
    "$SC" --port "$SPORT" --appendonly no --dir "$work/sc" ${SC_ARGS:-} 2>"$work/sc.log" &
    scpid=$!
    for _ in $(seq 100); do grep -q "listening on" "$work/sc.log" && break; sleep 0.1; done
    read -r sr su senc < <(measure "$SPORT" "$scpid" "$work/data.resp" "$keys" "$units")
    kill "$scpid"; wait "$scpid" 2>/dev/null || true; scpid=
    ratio=$(python3 -c "print('%.2f' % ($sr/$rr))")
  fi
  printf '%-10s %10s %10s %11s %11s %8s  %s\n' "$shape" "$rr" "$sr" "$ru" "$su" "$ratio" \
    "redis:$renc${senc:+ sc:$senc}"
done
