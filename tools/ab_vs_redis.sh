#!/usr/bin/env bash
# A/B of shardcache builds against Redis 7.0.15, side by side in one run:
# every server starts with the same --appendfsync, then each run benchmarks
# them one after another (alternating), and the medians are printed.
#
# Usage: tools/ab_vs_redis.sh RUNS PIPELINE "label|command" ...
#   command "redis" starts redis-server (appendonly yes, no RDB preamble);
#   any other command gets --port and --dir appended.
# Environment: FSYNC (always), T (set), N (60000 requests per run).
# Example:
#   FSYNC=always N=50000 tools/ab_vs_redis.sh 9 1 "redis|redis" \
#     "new|target/release/shardcache" "old|/tmp/shardcache-old"
# Loopback only; every run is bounded by N requests.
set -uo pipefail
RUNS=$1
P=$2
shift 2
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"' EXIT
ports=()
labels=()
i=0
for spec in "$@"; do
  label=${spec%%|*}
  cmd=${spec#*|}
  port=$((16600 + i))
  dir="$work/$i"
  mkdir -p "$dir"
  if [ "$cmd" = redis ]; then
    redis-server --port "$port" --save '' --appendonly yes --appendfsync "${FSYNC:-always}" \
      --aof-use-rdb-preamble no --dir "$dir" >/dev/null &
  else
    # shellcheck disable=SC2086 # the command is a word list on purpose
    $cmd --port "$port" --appendfsync "${FSYNC:-always}" --dir "$dir" 2>/dev/null &
  fi
  pids+=($!)
  ports+=("$port")
  labels+=("$label")
  i=$((i + 1))
done
for port in "${ports[@]}"; do
  for _ in $(seq 100); do
    redis-cli -p "$port" PING 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
done
declare -A res
for _ in $(seq "$RUNS"); do
  for j in "${!ports[@]}"; do
    v=$(redis-benchmark -p "${ports[$j]}" -t "${T:-set}" -n "${N:-60000}" -r 1000000 -d 100 \
      -c 50 -P "$P" --csv 2>/dev/null | awk -F, 'NR>1{gsub(/"/,""); print $2}')
    res[$j]="${res[$j]:-} $v"
  done
done
for j in "${!ports[@]}"; do
  median=$(echo ${res[$j]} | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "${labels[$j]} ${T:-set} P$P fsync=${FSYNC:-always}: median $median  all:${res[$j]}"
done
