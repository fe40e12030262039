#!/usr/bin/env bash
# Multi-core scaling against Redis, on a machine with more cores than 2.
#
#   tools/scale.sh OUTDIR
#
# For each server size N in SIZES (1 2 4 8 16; sizes needing more than
# nproc - CLIENT_CORES cores are skipped) the servers get cores 0..N-1
# (taskset) and shardcache-bench gets the last CLIENT_CORES cores:
#   - shardcache --workers N --shards N (pinned inside its cores),
#   - redis-server (one thread: the baseline),
#   - redis-server --io-threads min(N, 4) --io-threads-do-reads yes (from N=2).
# Each runs GET/SET 9:1 over KEYS prefilled keys of VALUE_SIZE bytes, at
# pipeline 1 and 16, CONNECTIONS connections, for DURATION, REPS alternating
# repetitions; OUTDIR/scale.md gets the medians of ops/s and p99 (ms) and
# the ratios to single-threaded Redis, OUTDIR/json the raw runs.
#
# Environment: SIZES, CLIENT_CORES [nproc/4, at least 2], CONNECTIONS [200],
# DURATION [5s], REPS [3], KEYS [1000000], VALUE_SIZE [32], SKIP_BUILD [0],
# SHARDCACHE, BENCH, REDIS_SERVER. Everything it starts is killed on exit;
# only loopback is used.

set -euo pipefail
[[ $# -eq 1 ]] || { sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
OUT=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

NPROC=$(nproc)
SIZES=${SIZES:-"1 2 4 8 16"}
CLIENT_CORES=${CLIENT_CORES:-$(( NPROC / 4 > 2 ? NPROC / 4 : 2 ))}
CONNECTIONS=${CONNECTIONS:-200}
DURATION=${DURATION:-5s}
REPS=${REPS:-3}
KEYS=${KEYS:-1000000}
VALUE_SIZE=${VALUE_SIZE:-32}
SHARDCACHE=${SHARDCACHE:-./target/release/shardcache}
BENCH=${BENCH:-./target/release/shardcache-bench}
REDIS_SERVER=${REDIS_SERVER:-redis-server}

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    cargo build --release -p shardcache -p shardcache-bench
fi
mkdir -p "$OUT/json" "$OUT/logs"
TMP=$(mktemp -d)
PID=""
cleanup() {
    [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() {
    local i
    for i in $(seq 1 400); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "scale.sh: nothing listens on $1" >&2
    exit 1
}

CLIENT_SET="$((NPROC - CLIENT_CORES))-$((NPROC - 1))"
run_server() { # NAME N -> runs the matrix against it
    local name=$1 n=$2 port
    port=$(free_port)
    local cores="0-$((n - 1))"
    case $name in
        shardcache)
            rm -rf "$TMP/sc" && mkdir -p "$TMP/sc"
            taskset -c "$cores" "$SHARDCACHE" --port "$port" --workers "$n" --shards "$n" \
                --appendonly no --dir "$TMP/sc" >"$OUT/logs/$name-$n.log" 2>&1 &
            ;;
        redis)
            taskset -c "$cores" "$REDIS_SERVER" --port "$port" --save '' --appendonly no \
                --dir "$TMP" >"$OUT/logs/$name-$n.log" 2>&1 &
            ;;
        redis-io)
            local io=$(( n < 4 ? n : 4 ))
            taskset -c "$cores" "$REDIS_SERVER" --port "$port" --save '' --appendonly no \
                --io-threads "$io" --io-threads-do-reads yes \
                --dir "$TMP" >"$OUT/logs/$name-$n.log" 2>&1 &
            ;;
    esac
    PID=$!
    wait_port "$port"
    taskset -c "$CLIENT_SET" "$BENCH" --port "$port" --prefill --keys "$KEYS" \
        --value-size "$VALUE_SIZE" --ratio 0:1 --requests 1 --connections 16 --quiet >/dev/null
    local p rep
    for p in 1 16; do
        for rep in $(seq 1 "$REPS"); do
            taskset -c "$CLIENT_SET" "$BENCH" --port "$port" --threads "$CLIENT_CORES" \
                --connections "$CONNECTIONS" --pipeline "$p" --ratio 1:9 --keys "$KEYS" \
                --value-size "$VALUE_SIZE" --duration "$DURATION" --quiet \
                --json "$OUT/json/$name-n$n-p$p-$rep.json" >/dev/null 2>>"$OUT/logs/bench.log" || true
        done
    done
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=""
}

DONE=()
for n in $SIZES; do
    (( n + CLIENT_CORES <= NPROC )) || { echo "size $n skipped: $NPROC cores"; continue; }
    DONE+=("$n")
    for name in redis shardcache redis-io; do
        [[ $name == redis-io && $n == 1 ]] && continue
        echo "size $n: $name"
        run_server "$name" "$n"
    done
done

OUT="$OUT" SIZES="${DONE[*]}" REPS="$REPS" NPROC="$NPROC" CLIENT_CORES="$CLIENT_CORES" \
CONNECTIONS="$CONNECTIONS" DURATION="$DURATION" \
CPU_MODEL="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || uname -m)" \
python3 - <<'PY'
import json, os, statistics
from pathlib import Path
out = Path(os.environ["OUT"])
def cell(name, n, p):
    runs = []
    for rep in range(1, int(os.environ["REPS"]) + 1):
        f = out / "json" / f"{name}-n{n}-p{p}-{rep}.json"
        if f.exists():
            runs.append(json.loads(f.read_text()))
    if not runs:
        return None, None
    ops = statistics.median(r["ops_per_sec"] for r in runs)
    p99 = statistics.median(max(o.get("p99_us") or 0 for o in r["ops"].values()) for r in runs)
    return ops, p99
lines = [
    "# shardcache multi-core scaling",
    "",
    f"{os.environ['CPU_MODEL']}, nproc {os.environ['NPROC']}; client on {os.environ['CLIENT_CORES']} cores of its own, "
    f"{os.environ['CONNECTIONS']} connections, GET:SET 9:1, {os.environ['DURATION']} a run, medians of {os.environ['REPS']}.",
    "",
    "| server cores | pipeline | Redis ops/s | Redis io-threads ops/s | shardcache ops/s | shardcache / Redis | p99 ms Redis / io / shardcache |",
    "|---:|---:|---:|---:|---:|---:|---|",
]
fmt = lambda v: "-" if v is None else f"{v:,.0f}"
ms = lambda v: "-" if v is None else f"{v / 1000:.2f}"
for n in os.environ["SIZES"].split():
    for p in (1, 16):
        r, rp = cell("redis", n, p)
        i, ip = cell("redis-io", n, p)
        s, sp = cell("shardcache", n, p)
        ratio = "-" if not r or not s else f"{s / r:.2f}"
        lines.append(f"| {n} | {p} | {fmt(r)} | {fmt(i)} | {fmt(s)} | {ratio} | {ms(rp)} / {ms(ip)} / {ms(sp)} |")
(out / "scale.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
PY
