#!/usr/bin/env bash
# Run N shardcache instances behind twemproxy (nutcracker) on loopback.
#
#   cluster.sh start N BASE_PORT DIR [--proxy-port P] [--stats-port S] [-- SHARDCACHE_ARGS...]
#   cluster.sh status DIR
#   cluster.sh stop DIR
#
# start: instance i (0-based) listens on 127.0.0.1:(BASE_PORT+i) with its own
#   data directory DIR/node-i (AOF persistence) and log DIR/node-i.log;
#   nutcracker listens on 127.0.0.1:P (default BASE_PORT+100) with
#   `distribution: ketama`, `hash: fnv1a_64`, `redis: true`; its config is
#   DIR/nutcracker.yml, its log DIR/nutcracker.log, its stats port S (default
#   P+1) on 127.0.0.1. Every PID goes into DIR/pids ("name pid port" lines).
#   Each port must answer PING before the next step; if anything fails,
#   whatever was started is stopped again. Arguments after `--` go to every
#   shardcache (the default already has --no-pin: several instances on one
#   host must not pin their workers to the same cores).
# status: one line per process: alive or not, and whether its port answers
#   PING (plus DBSIZE for the instances). Exit 0 only if everything is up.
# stop: SIGTERM to every recorded PID (proxy first), then wait for each to
#   exit (shardcache flushes its AOF and exits 0); SIGKILL after
#   CLUSTER_STOP_TIMEOUT seconds (default 30) with a warning.
#
# Environment: SHARDCACHE_BIN (default target/release/shardcache of this
# repository), NUTCRACKER_BIN (default: nutcracker on PATH, or
# /usr/sbin/nutcracker), CLUSTER_START_TIMEOUT (seconds per port, default 30).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
HOST=127.0.0.1
START_TIMEOUT=${CLUSTER_START_TIMEOUT:-30}
STOP_TIMEOUT=${CLUSTER_STOP_TIMEOUT:-30}

die() {
    echo "cluster.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

check_port() {
    is_uint "$1" && (($1 >= 1 && $1 <= 65535)) || die "invalid port: $1"
}

# Sends the one-word command $2 to HOST:$1 as a RESP array (twemproxy does
# not accept inline commands) and prints the first line of the reply, or
# fails (1 s read timeout). The subshell owns fd 3, so it is always closed.
one_word() {
    local port=$1 word=$2
    (
        exec 2>/dev/null
        exec 3<>"/dev/tcp/$HOST/$port" || exit 1
        printf '*1\r\n$%d\r\n%s\r\n' "${#word}" "$word" >&3
        IFS= read -r -t 1 line <&3 || exit 1
        printf '%s\n' "${line%$'\r'}"
    )
}

# Succeeds if HOST:$1 answers PING with +PONG.
ping_port() {
    local reply
    reply=$(one_word "$1" PING) || return 1
    [[ $reply == "+PONG" ]]
}

# Prints the integer reply of a keyless command (e.g. DBSIZE), or "?".
int_reply() {
    local reply
    reply=$(one_word "$1" "$2") || reply=""
    if [[ $reply == :* ]]; then echo "${reply#:}"; else echo "?"; fi
}

# Something already accepts connections on HOST:$1?
port_in_use() {
    (
        exec 2>/dev/null
        exec 3<>"/dev/tcp/$HOST/$1"
    )
}

# A PID that exists and is not a zombie (an unreaped zombie still answers
# kill -0 when PID 1 does not reap orphans, as in some containers).
alive() {
    local pid=$1 state
    kill -0 "$pid" 2>/dev/null || return 1
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ $state != Z ]]
}

# The PID still runs the program we started (guards against PID reuse).
ours() {
    local pid=$1 prog=$2 exe
    alive "$pid" || return 1
    exe=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $exe == *"$prog"* ]]
}

wait_for_ping() {
    local name=$1 pid=$2 port=$3 log=$4 deadline=$((SECONDS + START_TIMEOUT))
    until ping_port "$port"; do
        if ! alive "$pid"; then
            echo "cluster.sh: $name (pid $pid) exited before answering PING on $HOST:$port; last lines of $log:" >&2
            tail -n 20 "$log" >&2 || true
            return 1
        fi
        if ((SECONDS >= deadline)); then
            echo "cluster.sh: $name (pid $pid) did not answer PING on $HOST:$port within ${START_TIMEOUT}s" >&2
            return 1
        fi
        sleep 0.1
    done
}

# stop_pids DIR: SIGTERM each recorded process (last started first), wait.
stop_pids() {
    local dir=$1 pidfile=$1/pids
    local -a names=() pids=() progs=()
    local name pid port prog i status=0
    [[ -f $pidfile ]] || return 0
    while read -r name pid port prog; do
        [[ -n ${name:-} && -n ${pid:-} ]] || continue
        names+=("$name")
        pids+=("$pid")
        progs+=("${prog:-}")
    done <"$pidfile"
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        name=${names[i]}
        pid=${pids[i]}
        prog=${progs[i]}
        if ! ours "$pid" "$(basename "${prog:-$name}")"; then
            echo "$name (pid $pid): not running"
            continue
        fi
        kill -TERM "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + STOP_TIMEOUT))
        while alive "$pid" && ((SECONDS < deadline)); do
            sleep 0.1
        done
        if alive "$pid"; then
            echo "cluster.sh: $name (pid $pid) still running ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
            status=1
        else
            echo "$name (pid $pid): stopped"
        fi
    done
    rm -f "$pidfile"
    return "$status"
}

cmd_start() {
    (($# >= 3)) || usage
    local n=$1 base=$2 dir=$3
    shift 3
    local proxy_port="" stats_port=""
    local -a extra=()
    while (($#)); do
        case $1 in
        --proxy-port) (($# >= 2)) || usage; proxy_port=$2; shift 2 ;;
        --proxy-port=*) proxy_port=${1#*=}; shift ;;
        --stats-port) (($# >= 2)) || usage; stats_port=$2; shift 2 ;;
        --stats-port=*) stats_port=${1#*=}; shift ;;
        --) shift; extra=("$@"); break ;;
        *) die "unknown option: $1" ;;
        esac
    done
    is_uint "$n" && ((n >= 1 && n <= 100)) || die "N must be 1..100, got: $n"
    check_port "$base"
    check_port $((base + n - 1))
    proxy_port=${proxy_port:-$((base + 100))}
    stats_port=${stats_port:-$((proxy_port + 1))}
    check_port "$proxy_port"
    check_port "$stats_port"

    local bin=${SHARDCACHE_BIN:-$REPO_ROOT/target/release/shardcache}
    [[ -x $bin ]] || die "shardcache binary not found or not executable: $bin (build it with 'cargo build --release' or set SHARDCACHE_BIN)"
    local nc=${NUTCRACKER_BIN:-}
    if [[ -z $nc ]]; then
        nc=$(command -v nutcracker || true)
        [[ -n $nc ]] || { [[ -x /usr/sbin/nutcracker ]] && nc=/usr/sbin/nutcracker; }
    fi
    [[ -n $nc && -x $nc ]] || die "nutcracker not found (apt-get install -y nutcracker, or set NUTCRACKER_BIN)"

    local pidfile=$dir/pids
    if [[ -s $pidfile ]]; then
        local _n p _rest
        while read -r _n p _rest; do
            [[ -n ${p:-} ]] && alive "$p" && die "$pidfile lists running process $p; run 'cluster.sh stop $dir' first"
        done <"$pidfile"
        rm -f "$pidfile"
    fi

    local -a ports=()
    local i port
    for ((i = 0; i < n; i++)); do ports+=($((base + i))); done
    for port in "${ports[@]}" "$proxy_port" "$stats_port"; do
        port_in_use "$port" && die "port $port on $HOST is already in use"
    done
    local p1
    for p1 in "${ports[@]}"; do
        [[ $p1 == "$proxy_port" || $p1 == "$stats_port" ]] && die "proxy/stats port collides with instance port $p1"
    done
    [[ $proxy_port != "$stats_port" ]] || die "proxy and stats ports must differ"

    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    pidfile=$dir/pids

    # From here on, a failure stops whatever was started.
    : >"$pidfile"
    trap 'echo "cluster.sh: start failed; stopping what was started" >&2; stop_pids "$dir" >&2 || true' ERR
    set -E

    local pid log
    for ((i = 0; i < n; i++)); do
        port=${ports[i]}
        mkdir -p "$dir/node-$i"
        log=$dir/node-$i.log
        nohup "$bin" --bind "$HOST" --port "$port" --dir "$dir/node-$i" --no-pin "${extra[@]}" \
            </dev/null >"$log" 2>&1 &
        pid=$!
        echo "node-$i $pid $port $(basename "$bin")" >>"$pidfile"
        wait_for_ping "node-$i" "$pid" "$port" "$log"
        echo "node-$i: pid $pid, $HOST:$port, dir $dir/node-$i"
    done

    local conf=$dir/nutcracker.yml
    {
        echo "# Written by tools/cluster/cluster.sh; see twemproxy's README for the keys."
        echo "shardcache:"
        echo "  listen: $HOST:$proxy_port"
        echo "  hash: fnv1a_64"
        echo "  distribution: ketama"
        echo "  redis: true"
        echo "  # Keep key placement stable while a node restarts: its keys fail"
        echo "  # (-ERR from the proxy) instead of moving to the other nodes."
        echo "  auto_eject_hosts: false"
        echo "  server_retry_timeout: 2000"
        echo "  server_failure_limit: 1"
        echo "  # Give up on a backend reply after this many ms (default: never)."
        echo "  timeout: 2000"
        echo "  preconnect: true"
        echo "  # 'host:port:weight name': ketama hashes the name, so an instance"
        echo "  # can move to another port without moving its keys."
        echo "  servers:"
        for ((i = 0; i < n; i++)); do
            echo "    - $HOST:${ports[i]}:1 node-$i"
        done
    } >"$conf"
    "$nc" -t -c "$conf" >"$dir/nutcracker-test.log" 2>&1 || {
        cat "$dir/nutcracker-test.log" >&2
        false
    }

    log=$dir/nutcracker.log
    : >"$log"
    nohup "$nc" -c "$conf" -s "$stats_port" -a "$HOST" -o "$log" -p "$dir/nutcracker.pid" \
        </dev/null >"$dir/nutcracker.out" 2>&1 &
    pid=$!
    echo "proxy $pid $proxy_port $(basename "$nc")" >>"$pidfile"
    wait_for_ping "nutcracker" "$pid" "$proxy_port" "$log"
    echo "proxy: nutcracker pid $pid, $HOST:$proxy_port (stats $HOST:$stats_port), config $conf"

    trap - ERR
    echo "cluster up: redis-cli -p $proxy_port   (stop: $0 stop $dir)"
}

cmd_status() {
    (($# == 1)) || usage
    local dir=$1 pidfile=$1/pids name pid port prog ok=0 state reach extra
    [[ -s $pidfile ]] || { echo "no cluster recorded in $dir"; return 1; }
    while read -r name pid port prog; do
        [[ -n ${name:-} ]] || continue
        if ours "$pid" "${prog:-$name}"; then state=running; else state=DEAD; ok=1; fi
        if ping_port "$port"; then reach="PING ok"; else reach="no PING reply"; ok=1; fi
        extra=""
        [[ $name == node-* ]] && extra=" dbsize=$(int_reply "$port" DBSIZE)"
        printf '%-8s pid %-8s %s:%-5s %-8s %s%s\n' "$name" "$pid" "$HOST" "$port" "$state" "$reach" "$extra"
    done <"$pidfile"
    return "$ok"
}

cmd_stop() {
    (($# == 1)) || usage
    local dir=$1
    [[ -f $dir/pids ]] || { echo "no cluster recorded in $dir"; return 0; }
    stop_pids "$dir"
}

(($# >= 1)) || usage
cmd=$1
shift
case $cmd in
start) cmd_start "$@" ;;
status) cmd_status "$@" ;;
stop) cmd_stop "$@" ;;
-h | --help | help) usage ;;
*) usage ;;
esac
