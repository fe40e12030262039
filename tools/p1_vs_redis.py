#!/usr/bin/env python3
"""Requests without pipelining: throughput and server CPU per request.

    tools/p1_vs_redis.py [N] [ROUNDS]

(CLIENTS=1,50 and PIPELINE=1 by default.) Starts redis-server and each shardcache build in SHARDCACHE (comma-separated,
default ./target/release/shardcache; persistence off, defaults otherwise) on
free loopback ports and runs, for each of `-c 1` and `-c 50`, `redis-benchmark
-t set,get -P 1 -n N -r 100000 -d 100` against each server in turn, ROUNDS
alternating rounds. Prints medians of the rate and of the server's CPU per
request (the scheduler's on-CPU time of all the server's threads, from
/proc/PID/task/*/schedstat), the ratios to Redis, and context switches per
request (voluntary and not, of all its threads). Everything it starts is
killed on exit. Defaults: N=100000, ROUNDS=5.
"""
import os, re, socket, statistics, subprocess, sys, tempfile, time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
BUILDS = os.environ.get("SHARDCACHE", "./target/release/shardcache").split(",")
CLIENTS = [int(c) for c in os.environ.get("CLIENTS", "1,50").split(",")]
PIPELINE = os.environ.get("PIPELINE", "1")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_ns(pid):
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def switches(pid):
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/status") as f:
                for line in f:
                    if line.endswith("ctxt_switches:\t" + line.split("\t")[-1]) and "ctxt_switches" in line:
                        total += int(line.split()[-1])
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


def bench(port, test, clients):
    out = subprocess.run(
        ["timeout", "120", "redis-benchmark", "-p", str(port), "-t", test, "-P", PIPELINE, "-c", str(clients),
         "-n", str(N), "-r", "100000", "-d", "100", "-q"],
        capture_output=True, text=True).stdout
    m = re.findall(r"([\d.]+) requests per second", out)
    return float(m[-1]) if m else 0.0


def main():
    tmp = tempfile.mkdtemp()
    procs, ports = {}, {}
    ports["redis"] = free_port()
    procs["redis"] = subprocess.Popen(["redis-server", "--port", str(ports["redis"]), "--save", "",
                                       "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL)
    for b in BUILDS:
        name = "shardcache" if len(BUILDS) == 1 else b
        ports[name] = free_port()
        procs[name] = subprocess.Popen([b, "--port", str(ports[name]), "--appendonly", "no", "--dir", tmp],
                                       stderr=subprocess.DEVNULL)
    try:
        for name in procs:
            wait_port(ports[name])
        res = {}
        for _ in range(ROUNDS):
            for c in CLIENTS:
                for test in ("set", "get"):
                    for name, p in procs.items():
                        before, sw = cpu_ns(p.pid), switches(p.pid)
                        rate = bench(ports[name], test, c)
                        used = cpu_ns(p.pid) - before
                        r = res.setdefault((c, test, name), ([], [], []))
                        r[0].append(rate)
                        r[1].append(used / 1000 / N)
                        r[2].append((switches(p.pid) - sw) / N)
        print(f"redis-benchmark -P {PIPELINE} -n {N} -r 100000 -d 100, {ROUNDS} alternating rounds, medians")
        print("test        server                   rps     CPU us/req   ratio rps  ratio CPU  switches/req")
        for c in CLIENTS:
            for test in ("set", "get"):
                base = res[(c, test, "redis")]
                for name in procs:
                    rates, cpus, sws = res[(c, test, name)]
                    print(f"{test.upper()} -c {c:<3} {name:22} {statistics.median(rates):9.0f} {statistics.median(cpus):10.2f}"
                          f" {statistics.median(rates) / statistics.median(base[0]):10.2f}"
                          f" {statistics.median(cpus) / statistics.median(base[1]):10.2f}"
                          f" {statistics.median(sws):12.2f}")
    finally:
        for p in procs.values():
            p.kill()
            p.wait()


main()
