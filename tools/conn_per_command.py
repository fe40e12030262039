#!/usr/bin/env python3
"""The original project's benchmark: a new TCP connection for every command.

    tools/conn_per_command.py [N] [ROUNDS]

Starts redis-server and ./target/release/shardcache (persistence off) on free
loopback ports (SHARDCACHE=bin1,bin2 compares several builds, each against
the same Redis). Each round, for each server in turn: N times connect, send
`set keyI valueI` inline, read the reply, close; then the same with `get
keyI`. Prints, per server, the median over ROUNDS of the rate (commands/s,
bounded by this one Python client as much as by the server) and of the
server's CPU time per connection (the scheduler's on-CPU time of all its
threads, /proc/PID/task/*/schedstat, which the machine's other load moves
much less than rates). Both servers are
killed on exit. Defaults: N=2000, ROUNDS=5.
"""
import os, socket, statistics, subprocess, sys, tempfile, time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
SC = os.environ.get("SHARDCACHE", "./target/release/shardcache")
SC_ARGS = os.environ.get("SC_ARGS", "").split()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_ns(pid):
    """The scheduler's exact on-CPU time of every thread of `pid`. Not
    utime+stime from /proc/PID/stat: those are charged to whichever thread
    runs at a timer tick, and threads that run in bursts of microseconds (a
    connection per command) came out anywhere from 12 to 140 us per
    connection for the same build."""
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def one_pass(port, verb):
    start = time.perf_counter()
    for i in range(N):
        s = socket.create_connection(("127.0.0.1", port))
        line = f"set key{i} value{i}\r\n" if verb == "set" else f"get key{i}\r\n"
        s.sendall(line.encode())
        got = b""
        while not got.endswith(b"\r\n") or (got.startswith(b"$") and got.count(b"\r\n") < 2):
            chunk = s.recv(256)
            if not chunk:
                break
            got += chunk
        s.close()
    return N / (time.perf_counter() - start)


def main():
    tmp = tempfile.mkdtemp()
    rp = free_port()
    procs = {
        "redis": subprocess.Popen(["redis-server", "--port", str(rp), "--save", "", "--appendonly", "no",
                                   "--dir", tmp], stdout=subprocess.DEVNULL),
    }
    ports = {"redis": rp}
    builds = SC.split(",")
    for b in builds:
        name = "shardcache" if len(builds) == 1 else b
        ports[name] = free_port()
        procs[name] = subprocess.Popen([b, "--port", str(ports[name]), "--appendonly", "no", "--dir", tmp]
                                       + SC_ARGS, stderr=subprocess.DEVNULL)
    try:
        for name in procs:
            wait_port(ports[name])
        res = {(n, v): ([], []) for n in procs for v in ("set", "get")}
        for _ in range(ROUNDS):
            for verb in ("set", "get"):
                for name, p in procs.items():
                    before = cpu_ns(p.pid)
                    rate = one_pass(ports[name], verb)
                    used = (cpu_ns(p.pid) - before) / 1e9
                    res[(name, verb)][0].append(rate)
                    res[(name, verb)][1].append(used / N * 1e6)
        print(f"{N} connections per pass, {ROUNDS} alternating rounds, medians")
        print("verb  server       conn/s   server CPU us/conn")
        for verb in ("set", "get"):
            for name in procs:
                rates, cpus = res[(name, verb)]
                print(f"{verb:5} {name:11} {statistics.median(rates):8.0f}   {statistics.median(cpus):6.1f}")
            for name in procs:
                if name == "redis":
                    continue
                r = statistics.median(res[(name, verb)][0]) / statistics.median(res[("redis", verb)][0])
                c = statistics.median(res[(name, verb)][1]) / statistics.median(res[("redis", verb)][1])
                print(f"{verb:5} {name}/redis: rate {r:.2f}x, CPU per connection {c:.2f}x")
    finally:
        for p in procs.values():
            p.kill()
            p.wait()


main()
