#!/usr/bin/env python3
"""How long one command on a huge hash or set holds up other clients.

Usage: tools/collection_stalls.py PORT [N]

Against a server on 127.0.0.1:PORT (shardcache or Redis; it is flushed),
builds a hash of N fields and a set of N members (default 2,000,000), then
runs, one at a time, the commands whose cost grows with the collection:
UNLINK, DEL, FLUSHALL ASYNC, an expiry (PEXPIRE 50, then the key expires
on its own), an eviction (maxmemory set to half the memory used, then a
write to the key evicts it first), and the inserts themselves (a table
grows while it is filled). Meanwhile a probe client sends `EXISTS probe-key` in a loop (to
the shard or thread that owns the big key: it names the big key itself)
and the longest round trip seen while each step ran is printed: that is
how long that server could serve no one else on that key's shard. The
probe touches the big key only through EXISTS, which an expired key
answers 0 to without being read.
"""

import socket
import sys
import threading
import time

import redis


class Probe(threading.Thread):
    """Round trips of EXISTS on one key, recording the longest."""

    def __init__(self, port, key):
        super().__init__(daemon=True)
        self.r = redis.Redis(port=port)
        self.key = key
        self.worst = 0.0
        self.running = True
        self.count = 0

    def run(self):
        while self.running:
            t = time.perf_counter()
            self.r.exists(self.key)
            self.worst = max(self.worst, time.perf_counter() - t)
            self.count += 1

    def reset(self):
        self.worst = 0.0


def fill(r, kind, key, n, batch):
    p = r.pipeline(transaction=False)
    for start in range(0, n, batch):
        if kind == "hash":
            m = {f"field:{i}": "v" for i in range(start, min(n, start + batch))}
            p.hset(key, mapping=m)
        else:
            p.sadd(key, *[f"member:{i}" for i in range(start, min(n, start + batch))])
        if len(p) >= 100:
            p.execute()
    p.execute()


def step(probe, name, fn):
    time.sleep(0.2)
    probe.reset()
    t = time.perf_counter()
    fn()
    took = time.perf_counter() - t
    time.sleep(0.2)
    print(f"{name:<44} command {took * 1e3:8.1f} ms   longest probe {probe.worst * 1e3:7.1f} ms")


def main():
    port = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000_000
    r = redis.Redis(port=port, socket_timeout=600)
    r.flushall()
    for kind, key in (("hash", "big:hash"), ("set", "big:set")):
        probe = Probe(port, key)
        probe.start()
        step(probe, f"fill a {kind} of {n:,} (1 item per command)",
             lambda: fill(r, kind, key, n, 1))
        step(probe, f"UNLINK the {kind}", lambda: r.unlink(key))
        fill(r, kind, key, n, 1000)
        step(probe, f"DEL the {kind}", lambda: r.delete(key))
        fill(r, kind, key, n, 1000)
        step(probe, "FLUSHALL ASYNC", lambda: r.flushall(asynchronous=True))
        fill(r, kind, key, n, 1000)

        def expire():
            # Without touching the key: the server's own expiry cycle
            # removes it (a look-up would remove it on the request path),
            # and DBSIZE counts it until then.
            r.pexpire(key, 50)
            while r.dbsize():
                time.sleep(0.01)

        step(probe, f"the {kind} expires (PEXPIRE 50)", expire)
        fill(r, kind, key, n, 1000)

        def evict():
            used = r.info("memory")["used_memory"]
            r.config_set("maxmemory-policy", "allkeys-lru")
            r.config_set("maxmemory", used // 2)
            try:
                if kind == "hash":
                    r.hset(key, "after", "eviction")
                else:
                    r.sadd(key, "after-eviction")
            finally:
                r.config_set("maxmemory", 0)
            if r.info("stats")["evicted_keys"] == 0:
                raise SystemExit("nothing was evicted")

        step(probe, f"the {kind} is evicted (maxmemory)", evict)
        r.delete(key)
        probe.running = False
        probe.join()


if __name__ == "__main__":
    try:
        main()
    except (redis.ConnectionError, socket.error) as e:
        sys.exit(f"cannot talk to the server: {e}")
