#!/usr/bin/env bash
# Pub/sub fan-out: one publisher, 1,000 subscribers, shardcache and
# redis-server measured in the same run, one after the other, twice each
# (redis, shardcache, redis, shardcache) so drifts in machine load hit both.
#
#   tools/pubsub_fanout.sh [extra pubsub_fanout flags]
#
# Builds (release) shardcache and the pubsub_fanout tool unless SKIP_BUILD=1,
# starts both servers on free loopback ports (shardcache with --workers
# WORKERS, default 2, so subscribers sit on every worker), and runs
# `pubsub_fanout --subscribers 1000 --messages MESSAGES --rate RATE` against
# both (MESSAGES 2000 per phase and RATE 200/s by default).
# Every phase is bounded (--timeout 60 s, --messages each); everything this
# script starts is killed by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-2}
MESSAGES=${MESSAGES:-2000}
RATE=${RATE:-200}
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    cargo build --release --bin shardcache -p shardcache >/dev/null
    cargo build --release -p shardcache-bench --bin pubsub_fanout >/dev/null
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RP=$(free_port); SP=$(free_port)
TMP=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no --maxclients 4096 >"$TMP/redis.log" 2>&1 &
pids+=($!)
./target/release/shardcache --port "$SP" --bind 127.0.0.1 --appendonly no --dir "$TMP" \
    --workers "$WORKERS" --no-pin >"$TMP/shardcache.log" 2>&1 &
pids+=($!)
for p in "$RP" "$SP"; do
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null && break
        sleep 0.1
    done
done
ulimit -n 8192 2>/dev/null || true
./target/release/pubsub_fanout --subscribers 1000 --messages "$MESSAGES" --rate "$RATE" --timeout 60 \
    --target "redis=127.0.0.1:$RP" --target "shardcache=127.0.0.1:$SP" \
    --target "redis=127.0.0.1:$RP" --target "shardcache=127.0.0.1:$SP" "$@"
