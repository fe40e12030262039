#!/usr/bin/env python3
"""A client scenario through redis-py against a Redis-compatible server.

Usage: redis_py_scenario.py --host HOST --port PORT [--keys K1,K2,K3,K4]

The four --keys must route to four different shards of the server under test
(tests/clients.rs picks and asserts them); transactions, MSETNX and RENAME
use them so every multi-key step crosses shards. The whole scenario runs
twice, over RESP2 (protocol=2) and over RESP3 (protocol=3, which needs
redis-py >= 5), and once more with the client's default protocol (RESP3
since redis-py 8, RESP2 before). The database is flushed first: never point
this at a server holding data you want.

Prints one line per step; exits 1 with a message naming the protocol and the
step at the first failure (with --keep-going: after running every step, each
on a flushed database), 2 on bad usage or a redis-py without RESP3.
"""

import argparse
import sys
import threading
import time

try:
    import redis
except ImportError:  # pragma: no cover - the Rust test checks this first
    print("FAIL: the `redis` Python package is not installed", file=sys.stderr)
    sys.exit(2)


class Failure(Exception):
    """A scenario step did not see what Redis replies."""


def eq(actual, expected, what):
    if actual != expected:
        raise Failure(f"{what}: expected {expected!r}, got {actual!r}")


def within(actual, low, high, what):
    if not isinstance(actual, int) or not low <= actual <= high:
        raise Failure(f"{what}: expected an integer in [{low}, {high}], got {actual!r}")


def step_transactional_pipeline(r, keys):
    a, c, d, g = keys
    r.set(g, "gone")
    p = r.pipeline()  # transaction=True: MULTI ... EXEC
    p.set(a, "v1")
    p.set(c, "v2")
    p.incr(d)
    p.incrby(d, 41)
    p.mget(a, c, d, g)
    p.delete(g)
    p.exists(a, c, d, g)
    p.get(g)
    res = p.execute()
    eq(res, [True, True, 1, 42, [b"v1", b"v2", b"42", b"gone"], 1, 3, None],
       "MULTI/EXEC results across four shards")
    eq(r.mget(a, c, d, g), [b"v1", b"v2", b"42", None], "MGET after EXEC")

    # A runtime error inside EXEC is one element of the result; the rest run.
    p = r.pipeline()
    p.set(a, "notanumber")
    p.incr(a)
    p.set(c, "after")
    try:
        p.execute()
        raise Failure("EXEC with a failing INCR should raise ResponseError")
    except redis.ResponseError as e:
        if "value is not an integer" not in str(e):
            raise Failure(f"EXEC error: unexpected message {e}")
    eq(r.get(c), b"after", "commands after the failing one inside EXEC ran")

    # raise_on_error=False hands the error back in place.
    p = r.pipeline()
    p.incr(a)
    p.get(a)
    res = p.execute(raise_on_error=False)
    if not isinstance(res[0], redis.ResponseError):
        raise Failure(f"EXEC element 0: expected a ResponseError, got {res[0]!r}")
    eq(res[1], b"notanumber", "EXEC element 1")


def step_plain_pipeline(r, keys):
    p = r.pipeline(transaction=False)
    for i in range(100):
        p.set(f"pipe:{i}", i)
    for i in range(100):
        p.get(f"pipe:{i}")
    p.mget(*keys)
    res = p.execute()
    eq(res[:100], [True] * 100, "100 pipelined SETs")
    eq(res[100:200], [str(i).encode() for i in range(100)], "100 pipelined GETs")
    eq(len(res), 201, "pipeline length")


def step_scan_iter(r, keys):
    written = {f"scan:{i}".encode() for i in range(57)}
    p = r.pipeline(transaction=False)
    for k in written:
        p.set(k, "x")
    p.set("noscan:1", "x")
    p.set("scanx", "x")
    p.execute()
    seen = list(r.scan_iter(match="scan:*", count=7))
    eq(set(seen), written, "scan_iter(match='scan:*', count=7) keys")
    seen_all = set(r.scan_iter(count=1000))
    missing = (written | {b"noscan:1", b"scanx"}) - seen_all
    if missing:
        raise Failure(f"scan_iter() without MATCH missed {sorted(missing)[:5]}")
    eq(list(r.scan_iter(match="nothing:*")), [], "scan_iter of a pattern with no keys")


def step_expiries(r, keys):
    k = keys[0]
    eq(r.set(k, "v", ex=100), True, "SET EX")
    within(r.ttl(k), 99, 100, "TTL after SET EX 100")
    eq(r.set(k, "v", px=50_000), True, "SET PX")
    within(r.pttl(k), 45_000, 50_000, "PTTL after SET PX 50000")
    eq(r.expire(k, 200), True, "EXPIRE on an existing key")
    within(r.ttl(k), 199, 200, "TTL after EXPIRE 200")
    eq(r.persist(k), True, "PERSIST")
    eq(r.ttl(k), -1, "TTL after PERSIST")
    eq(r.persist(k), False, "PERSIST of a persistent key")
    eq(r.expire("missing", 10), False, "EXPIRE of a missing key")
    eq(r.ttl("missing"), -2, "TTL of a missing key")
    eq(r.set(k, "v", ex=100, nx=True), None, "SET NX on an existing key")
    eq(r.set(k, "v2", px=100_000, xx=True, get=True), b"v", "SET XX GET PX")
    within(r.pttl(k), 95_000, 100_000, "PTTL after SET XX GET PX")
    eq(r.set(k, "v3", keepttl=True), True, "SET KEEPTTL")
    within(r.ttl(k), 95, 100, "TTL kept by KEEPTTL")
    eq(r.pexpire(k, 150), True, "PEXPIRE 150")
    time.sleep(0.4)
    eq(r.get(k), None, "GET after the key expired")
    eq(r.exists(k), 0, "EXISTS after the key expired")


def step_incrbyfloat(r, keys):
    k = keys[1]
    eq(r.incrbyfloat(k, 10.5), 10.5, "INCRBYFLOAT of a new key")
    eq(r.incrbyfloat(k, 0.1), 10.6, "INCRBYFLOAT 0.1")
    eq(r.get(k), b"10.6", "the stored string after INCRBYFLOAT")
    eq(r.incrbyfloat(k, -5), 5.6, "INCRBYFLOAT -5")
    eq(r.get(k), b"5.6", "the stored string after INCRBYFLOAT -5")
    r.set(k, "5.0e3")
    eq(r.incrbyfloat(k, 0), 5000.0, "INCRBYFLOAT 0 of 5.0e3")
    eq(r.get(k), b"5000", "5.0e3 + 0 is stored as 5000")
    r.set(k, "-1.5")
    r.incrbyfloat(k, 1.5)
    eq(r.get(k), b"0", "-1.5 + 1.5 is stored as 0")
    r.set(k, "abc")
    try:
        r.incrbyfloat(k, 1)
        raise Failure("INCRBYFLOAT on 'abc' should fail")
    except redis.ResponseError as e:
        eq(str(e), "value is not a valid float", "INCRBYFLOAT error")


def step_msetnx(r, keys):
    a, c, d, g = keys
    r.delete(*keys)
    eq(r.msetnx({a: "1", c: "2"}), True, "MSETNX of new keys on two shards")
    eq(r.msetnx({d: "3", g: "4", a: "x"}), False, "MSETNX with one existing key")
    eq(r.mget(a, c, d, g), [b"1", b"2", None, None], "MSETNX is all or nothing")
    eq(r.msetnx({d: "3", g: "4"}), True, "MSETNX of the remaining keys")
    eq(r.mget(a, c, d, g), [b"1", b"2", b"3", b"4"], "MGET after MSETNX")


def step_getex(r, keys):
    k = keys[2]
    r.set(k, "v")
    eq(r.getex(k, ex=100), b"v", "GETEX EX")
    within(r.ttl(k), 99, 100, "TTL after GETEX EX 100")
    eq(r.getex(k, px=50_000), b"v", "GETEX PX")
    within(r.pttl(k), 45_000, 50_000, "PTTL after GETEX PX")
    eq(r.getex(k, exat=4102444800), b"v", "GETEX EXAT")
    eq(r.execute_command("EXPIRETIME", k), 4102444800, "EXPIRETIME after GETEX EXAT")
    eq(r.getex(k, persist=True), b"v", "GETEX PERSIST")
    eq(r.ttl(k), -1, "TTL after GETEX PERSIST")
    eq(r.getex(k), b"v", "GETEX without options")
    eq(r.getex("missing", ex=10), None, "GETEX of a missing key")


def step_rename(r, keys):
    a, c, d, g = keys
    r.delete(*keys)
    r.set(a, "moved", ex=100)
    eq(r.rename(a, c), True, "RENAME across shards")
    eq(r.get(c), b"moved", "GET of the new name")
    eq(r.exists(a), 0, "the old name is gone")
    within(r.ttl(c), 99, 100, "RENAME keeps the TTL")
    r.set(d, "taken")
    eq(r.renamenx(c, d), False, "RENAMENX onto an existing key")
    eq(r.renamenx(c, g), True, "RENAMENX onto a free key")
    eq(r.mget(a, c, d, g), [None, None, b"taken", b"moved"], "keys after RENAMENX")
    try:
        r.rename("missing", a)
        raise Failure("RENAME of a missing key should fail")
    except redis.ResponseError as e:
        eq(str(e), "no such key", "RENAME error")


def step_watch_retry(r, keys, other):
    counter = keys[3]
    r.set(counter, 10)
    attempts = 0
    with r.pipeline() as p:
        while True:
            try:
                p.watch(counter)
                value = int(p.get(counter))
                attempts += 1
                if attempts == 1:
                    # Another client changes the watched key between WATCH
                    # and EXEC: the first EXEC must abort.
                    other.incrby(counter, 100)
                p.multi()
                p.set(counter, value + 1)
                p.execute()
                break
            except redis.WatchError:
                if attempts > 5:
                    raise Failure("WATCH retry loop did not converge")
    eq(attempts, 2, "attempts of the WATCH loop (one aborted EXEC)")
    eq(r.get(counter), b"111", "value after the retried transaction")

    # The same through the transaction() helper, with a writer thread.
    calls = []

    def bump(pipe):
        value = int(pipe.get(counter))
        if not calls:
            t = threading.Thread(target=other.incr, args=(counter,))
            t.start()
            t.join()
        calls.append(value)
        pipe.multi()
        pipe.set(counter, value * 2)

    r.transaction(bump, counter)
    eq(calls, [111, 112], "values seen by the transaction() helper")
    eq(r.get(counter), b"224", "value after transaction()")

    # An untouched WATCH lets EXEC through.
    with r.pipeline() as p:
        p.watch(counter)
        p.multi()
        p.incr(counter)
        eq(p.execute(), [225], "EXEC after an untouched WATCH")


def negotiated(r, *args):
    """The `proto` field of HELLO (with no version: the connection's current one)."""
    hello = r.execute_command("HELLO", *args)
    if isinstance(hello, list):
        hello = dict(zip(hello[::2], hello[1::2]))
    return hello.get(b"proto", hello.get("proto"))


def step_protocol(r, protocol):
    eq(negotiated(r), protocol, "protocol of the connection (HELLO without a version)")
    eq(negotiated(r, protocol), protocol, f"HELLO {protocol}")
    eq(r.ping(), True, "PING")
    eq(r.echo("hi"), b"hi", "ECHO")
    r.set("resp:k", "v")
    eq(r.get("resp:k"), b"v", "GET")
    eq(r.get("resp:missing"), None, "GET of a missing key")
    eq(r.mget("resp:k", "resp:missing"), [b"v", None], "MGET with a missing key")
    eq(r.incr("resp:n"), 1, "INCR")
    eq(r.exists("resp:k", "resp:n", "resp:missing"), 2, "EXISTS")
    eq(r.type("resp:k"), b"string", "TYPE")
    eq(r.config_set("maxmemory", "123mb"), True, "CONFIG SET maxmemory")
    got = {str(k, "utf-8") if isinstance(k, bytes) else k:
           str(v, "utf-8") if isinstance(v, bytes) else v
           for k, v in r.config_get("maxmemory").items()}
    eq(got, {"maxmemory": str(123 * 1024 * 1024)}, "CONFIG GET maxmemory")
    eq(r.config_set("maxmemory", "0"), True, "CONFIG SET maxmemory 0")
    eq(r.dbsize() >= 2, True, "DBSIZE")


STEPS = [
    ("transactional pipeline (MULTI/EXEC) across shards", step_transactional_pipeline),
    ("non-transactional pipeline", step_plain_pipeline),
    ("scan_iter(match, count)", step_scan_iter),
    ("SET EX/PX and TTL, PTTL, EXPIRE, PERSIST", step_expiries),
    ("INCRBYFLOAT exact strings", step_incrbyfloat),
    ("MSETNX across shards", step_msetnx),
    ("GETEX", step_getex),
    ("RENAME and RENAMENX across shards", step_rename),
]


def run(host, port, keys, protocol, keep_going):
    """Runs the scenario on one protocol; returns the number of failed steps."""
    label = f"protocol={protocol if protocol else 'default'}"
    kwargs = dict(host=host, port=port, socket_timeout=10)
    if protocol:
        kwargs["protocol"] = protocol
    failures = 0

    def attempt(step, fn):
        nonlocal failures
        try:
            fn()
            print(f"ok   [{label}] {step}")
        except (Failure, redis.RedisError) as e:
            kind = "" if isinstance(e, Failure) else f"{type(e).__name__}: "
            print(f"FAIL [{label}] {step}: {kind}{e}")
            failures += 1
            if not keep_going:
                sys.exit(1)

    r = redis.Redis(**kwargs)
    other = redis.Redis(**kwargs)
    if protocol is None:

        def default_protocol():
            print(f"     [{label}] the client is on RESP{negotiated(r)}")
            eq(r.ping(), True, "PING")
            eq(r.set("default:k", "v"), True, "SET")
            eq(r.get("default:k"), b"v", "GET")

        attempt("PING, SET, GET on the default protocol", default_protocol)
        return failures
    steps = [(name, lambda fn=fn: fn(r, keys)) for name, fn in STEPS]
    steps.append(("WATCH retry loop with a concurrent writer",
                  lambda: step_watch_retry(r, keys, other)))
    steps.append((f"RESP{protocol} basic commands", lambda: step_protocol(r, protocol)))
    for name, fn in steps:
        # A fresh database per step, so a failed step leaves nothing behind.
        attempt(name, lambda fn=fn: (r.flushall(), fn()))
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--keys", default="a,c,d,g",
                    help="four keys on four different shards, comma-separated")
    ap.add_argument("--keep-going", action="store_true",
                    help="run every step and report all failures")
    args = ap.parse_args()
    keys = args.keys.split(",")
    if len(keys) != 4 or len(set(keys)) != 4:
        ap.error("--keys needs four distinct keys")
    major = int(redis.__version__.split(".")[0])
    print(f"redis-py {redis.__version__} (python {sys.version.split()[0]})")
    if major < 5:
        print("FAIL: redis-py >= 5 is needed for protocol=3 (RESP3)")
        sys.exit(2)
    failures = sum(run(args.host, args.port, keys, p, args.keep_going) for p in (2, 3, None))
    if failures:
        print(f"redis-py scenario: {failures} steps failed")
        sys.exit(1)
    print("redis-py scenario: all steps passed")


if __name__ == "__main__":
    main()
