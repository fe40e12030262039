#!/usr/bin/env bash
# Compare shardcache with Redis under the same load, on this machine.
#
#   tools/compare.sh OUTDIR
#
# Starts redis-server and ./target/release/shardcache on free loopback ports,
# runs the same matrix of shardcache-bench runs against each, alternating
# (redis, shardcache, redis, shardcache, ...) so that drifts in machine load
# hit both alike, and writes OUTDIR/report.md (machine description and a
# table of ops/s and p50/p99/p99.9 per server with the ratio
# shardcache/redis), OUTDIR/svg/*.svg (latency by percentile, both servers
# overlaid), OUTDIR/hgrm/ and OUTDIR/json/ (raw results).
#
# Matrix: GET and SET x pipeline 1 and 16 x 1 and 50 connections x uniform
# and zipf keys, plus the original project's method: 1,000 SETs then 1,000
# GETs over one connection with a new TCP connection per request.
#
# Every run is bounded (DURATION each, default 2s). Everything this script
# starts is killed by PID on exit.
#
# Environment knobs (defaults in brackets):
#   DURATION [2s]   length of each matrix run
#   REPS [2]        runs per server per cell; the report shows medians
#   KEYS [100000]   keyspace (prefilled before the GET runs)
#   VALUE_SIZE [32] value bytes
#   ZIPF [0.99]     zipf exponent of the zipf column
#   THREADS [1]     client threads
#   SKIP_BUILD [0]  1: use the binaries already built
#   SHARDCACHE [./target/release/shardcache]
#   BENCH [./target/release/shardcache-bench]
#   REDIS_SERVER [redis-server]
#   SHARDCACHE_ARGS extra server flags [--appendonly no --dir TMP when the
#                   server has those flags, to match Redis run with
#                   --save '' --appendonly no]

set -euo pipefail

usage() {
    sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

[[ $# -eq 1 ]] || usage 2
[[ $1 == -h || $1 == --help ]] && usage 0

OUT=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

DURATION=${DURATION:-2s}
REPS=${REPS:-2}
KEYS=${KEYS:-100000}
VALUE_SIZE=${VALUE_SIZE:-32}
ZIPF=${ZIPF:-0.99}
THREADS=${THREADS:-1}
SHARDCACHE=${SHARDCACHE:-./target/release/shardcache}
BENCH=${BENCH:-./target/release/shardcache-bench}
REDIS_SERVER=${REDIS_SERVER:-redis-server}

command -v "$REDIS_SERVER" >/dev/null || { echo "compare.sh: $REDIS_SERVER not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "compare.sh: python3 is needed for the report" >&2; exit 1; }

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    cargo build --release -p shardcache -p shardcache-bench
fi
[[ -x $SHARDCACHE ]] || { echo "compare.sh: $SHARDCACHE not built" >&2; exit 1; }
[[ -x $BENCH ]] || { echo "compare.sh: $BENCH not built" >&2; exit 1; }

mkdir -p "$OUT/json" "$OUT/hgrm" "$OUT/svg" "$OUT/logs"
TMP=$(mktemp -d)
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # PORT PID NAME
    local i
    for i in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        kill -0 "$2" 2>/dev/null || { echo "compare.sh: $3 exited; see $OUT/logs/$3.log" >&2; exit 1; }
        sleep 0.05
    done
    echo "compare.sh: $3 did not listen on port $1" >&2
    exit 1
}

REDIS_PORT=$(free_port)
"$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$TMP" >"$OUT/logs/redis.log" 2>&1 &
PIDS+=($!)
wait_port "$REDIS_PORT" "$!" redis

if [[ -z ${SHARDCACHE_ARGS+x} ]]; then
    SHARDCACHE_ARGS=""
    help=$("$SHARDCACHE" --help 2>&1 || true)
    grep -q -- '--appendonly' <<<"$help" && SHARDCACHE_ARGS+=" --appendonly no"
    grep -q -- '--dir' <<<"$help" && SHARDCACHE_ARGS+=" --dir $TMP/shardcache"
    mkdir -p "$TMP/shardcache"
fi
SC_PORT=$(free_port)
# shellcheck disable=SC2086
"$SHARDCACHE" --port "$SC_PORT" $SHARDCACHE_ARGS >"$OUT/logs/shardcache.log" 2>&1 &
PIDS+=($!)
wait_port "$SC_PORT" "$!" shardcache

port_of() { [[ $1 == redis ]] && echo "$REDIS_PORT" || echo "$SC_PORT"; }

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "redis on $REDIS_PORT, shardcache on $SC_PORT; results in $OUT"

# Every key exists before the GET runs (misses would measure something else).
for server in redis shardcache; do
    "$BENCH" --port "$(port_of $server)" --prefill --keys "$KEYS" --value-size "$VALUE_SIZE" \
        --ratio 0:1 --requests 1 --connections 10 --quiet >/dev/null
done

CELLS=()
run_cell() { # NAME OP BENCH-ARGS...
    local name=$1 op=$2
    shift 2
    CELLS+=("$name $op")
    local rep server extra
    for rep in $(seq 1 "$REPS"); do
        for server in redis shardcache; do
            extra=()
            if [[ $rep == "$REPS" ]]; then
                extra+=(--hgrm "$OUT/hgrm/$name")
                if [[ $server == shardcache && -f $OUT/hgrm/$name/redis-$op.hgrm ]]; then
                    extra+=(--svg "$OUT/svg/$name.svg" --compare-hgrm "$OUT/hgrm/$name/redis-$op.hgrm")
                fi
            fi
            printf '%-34s %-10s rep %s: ' "$name" "$server" "$rep"
            "$BENCH" --port "$(port_of $server)" --label "$server" --threads "$THREADS" \
                --json "$OUT/json/$server-$name-$rep.json" --quiet "$@" "${extra[@]}" \
                2>>"$OUT/logs/bench.log" | sed 's/^[^:]*: //' || echo "(failed, see logs/bench.log)"
        done
    done
}

for op in get set; do
    ratio=$([[ $op == get ]] && echo 1:0 || echo 0:1)
    for p in 1 16; do
        for c in 1 50; do
            for dist in uniform "zipf:$ZIPF"; do
                dname=${dist%%:*}
                run_cell "$op-p$p-c$c-$dname" "$op" --ratio "$ratio" --pipeline "$p" \
                    --connections "$c" --key-dist "$dist" --keys "$KEYS" \
                    --value-size "$VALUE_SIZE" --duration "$DURATION"
            done
        done
    done
done

# The original project's method: a new TCP connection per request.
run_cell "orig-reconnect-1000-set" set --reconnect --connections 1 --requests 1000 \
    --ratio 0:1 --keys 1000 --key-dist seq --key-prefix orig: --value-size "$VALUE_SIZE"
run_cell "orig-reconnect-1000-get" get --reconnect --connections 1 --requests 1000 \
    --ratio 1:0 --keys 1000 --key-dist seq --key-prefix orig: --value-size "$VALUE_SIZE"

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

printf '%s\n' "${CELLS[@]}" >"$OUT/cells.txt"
CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
[[ -n $CPU_MODEL ]] || CPU_MODEL=$(uname -m)

OUT="$OUT" REPS="$REPS" DURATION="$DURATION" KEYS="$KEYS" VALUE_SIZE="$VALUE_SIZE" \
THREADS="$THREADS" NPROC="$(nproc)" KERNEL="$(uname -r)" CPU_MODEL="$CPU_MODEL" \
MEM="$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)" \
REDIS_VERSION="$("$REDIS_SERVER" --version | head -1)" \
GIT_REV="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
SC_ARGS="$SHARDCACHE_ARGS" LOAD_START="$LOAD_START" LOAD_END="$LOAD_END" \
python3 - <<'PY'
import json, os, statistics
from pathlib import Path

env = os.environ
out = Path(env["OUT"])
reps = int(env["REPS"])

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def cell_stats(server, name, op):
    runs = []
    for rep in range(1, reps + 1):
        f = out / "json" / f"{server}-{name}-{rep}.json"
        if f.exists():
            runs.append(json.loads(f.read_text()))
    if not runs:
        return None
    o = [r["ops"].get(op, {}) for r in runs]
    return {
        "ops": median([r["ops_per_sec"] for r in runs]),
        "p50": median([x.get("p50_us") for x in o]),
        "p99": median([x.get("p99_us") for x in o]),
        "p999": median([x.get("p999_us") for x in o]),
        "errors": sum(r["errors"] for r in runs),
        "runs": len(runs),
    }

def ms(us):
    return "-" if us is None else f"{us / 1000:.3f}"

def num(v):
    return "-" if v is None else f"{v:,.0f}"

lines = [
    "# shardcache vs Redis",
    "",
    "## Machine",
    "",
    f"- CPU: {env['CPU_MODEL']}, `nproc` = {env['NPROC']}, memory {env['MEM']}",
    f"- kernel (`uname -r`): {env['KERNEL']}",
    f"- Redis: {env['REDIS_VERSION']} (`--save '' --appendonly no`)",
    f"- shardcache: git {env['GIT_REV']}, flags `{env['SC_ARGS'].strip() or '(none)'}`",
    f"- load average at start {env['LOAD_START']}, at end {env['LOAD_END']}",
    "- client, Redis and shardcache all share these cores; the runs alternate "
    "redis, shardcache, redis, ... so that load drifts hit both alike",
    "",
    "## Method",
    "",
    f"`shardcache-bench`, {env['THREADS']} client thread(s), closed loop, each matrix run "
    f"{env['DURATION']}, {reps} run(s) per server per row (medians shown), "
    f"{env['KEYS']} keys prefilled with {env['VALUE_SIZE']}-byte values. "
    "Latencies in milliseconds. Ratio = shardcache ops/s / Redis ops/s.",
    "The `orig-reconnect` rows reproduce the original project's measurement: "
    "1,000 SETs, then 1,000 GETs, one connection, a new TCP connection per request "
    "(latency includes the connect).",
    "",
    "| row | op | Redis ops/s | p50 | p99 | p99.9 | shardcache ops/s | p50 | p99 | p99.9 | ratio | errors |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for line in (out / "cells.txt").read_text().splitlines():
    name, op = line.split()
    r = cell_stats("redis", name, op)
    s = cell_stats("shardcache", name, op)
    if r is None or s is None:
        lines.append(f"| {name} | {op} | (missing) | | | | | | | | | |")
        continue
    ratio = f"{s['ops'] / r['ops']:.2f}" if r["ops"] else "-"
    chart = out / "svg" / f"{name}.svg"
    label = f"[{name}](svg/{name}.svg)" if chart.exists() else name
    lines.append(
        f"| {label} | {op.upper()} | {num(r['ops'])} | {ms(r['p50'])} | {ms(r['p99'])} | "
        f"{ms(r['p999'])} | {num(s['ops'])} | {ms(s['p50'])} | {ms(s['p99'])} | "
        f"{ms(s['p999'])} | {ratio} | {r['errors'] + s['errors']} |"
    )
lines += [
    "",
    "Charts: `svg/<row>.svg` (latency by percentile, both servers). Raw data: "
    "`json/<server>-<row>-<rep>.json`, `hgrm/<row>/<server>-<op>.hgrm` "
    "(HdrHistogram percentile distributions in milliseconds).",
    "",
]
(out / "report.md").write_text("\n".join(lines))
print(f"wrote {out / 'report.md'}")
PY
