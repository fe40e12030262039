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


def step_hashes(r, keys):
    a, c, d, g = keys
    eq(r.hset(a, mapping={"f1": "v1", "f2": "2", "f3": "3.5"}), 3, "HSET mapping")
    eq(r.hset(a, "f1", "w1"), 0, "HSET of an existing field")
    eq(r.hget(a, "f1"), b"w1", "HGET")
    eq(r.hget(a, "nosuch"), None, "HGET of a missing field")
    eq(r.hmget(a, ["f1", "nosuch", "f2"]), [b"w1", None, b"2"], "HMGET")
    eq(r.hgetall(a), {b"f1": b"w1", b"f2": b"2", b"f3": b"3.5"}, "HGETALL")
    eq(r.hgetall("missing"), {}, "HGETALL of a missing key")
    eq(r.hkeys(a), [b"f1", b"f2", b"f3"], "HKEYS (listpack order)")
    eq(r.hvals(a), [b"w1", b"2", b"3.5"], "HVALS (listpack order)")
    eq(r.hlen(a), 3, "HLEN")
    eq(r.hstrlen(a, "f3"), 3, "HSTRLEN")
    eq(r.hexists(a, "f2"), True, "HEXISTS")
    eq(r.hexists(a, "nosuch"), False, "HEXISTS of a missing field")
    eq(r.hsetnx(a, "f1", "x"), False, "HSETNX of an existing field")
    eq(r.hsetnx(a, "f4", "x"), True, "HSETNX of a new field")
    eq(r.hincrby(a, "f2", 40), 42, "HINCRBY")
    eq(r.hincrbyfloat(a, "f3", 0.25), 3.75, "HINCRBYFLOAT")
    eq(r.hget(a, "f3"), b"3.75", "the stored string after HINCRBYFLOAT")
    eq(r.hdel(a, "f4", "nosuch"), 1, "HDEL")
    eq(r.object("encoding", a), b"listpack", "OBJECT ENCODING of a small hash")
    try:
        r.hincrby(a, "f1", 1)
        raise Failure("HINCRBY of a non-integer should fail")
    except redis.ResponseError as e:
        eq(str(e), "hash value is not an integer", "HINCRBY error")
    fields = {f"field:{i}".encode(): str(i).encode() for i in range(600)}
    eq(r.hset(c, mapping=fields), 600, "HSET of 600 fields")
    eq(r.object("encoding", c), b"hashtable", "OBJECT ENCODING of a big hash")
    eq(r.hgetall(c), fields, "HGETALL of a hashtable")
    eq(dict(r.hscan_iter(c, count=7)), fields, "hscan_iter(count=7)")
    eq(dict(r.hscan_iter(c, match="field:1?")),
       {k: v for k, v in fields.items() if len(k) == 8 and k.startswith(b"field:1")},
       "hscan_iter(match='field:1?')")
    eq(dict(r.hscan_iter(a)), {b"f1": b"w1", b"f2": b"42", b"f3": b"3.75"}, "hscan_iter of a listpack")
    eq(list(r.hscan_iter("missing")), [], "hscan_iter of a missing key")
    one = r.hrandfield(c)
    if one not in fields:
        raise Failure(f"HRANDFIELD: {one!r} is not a field")
    some = r.hrandfield(c, 5)
    eq(len(set(some)), 5, "HRANDFIELD 5 gives 5 distinct fields")
    if not set(some) <= set(fields):
        raise Failure(f"HRANDFIELD 5: {some!r}")
    eq(len(r.hrandfield(a, -10)), 10, "HRANDFIELD -10 repeats fields")
    pairs = r.hrandfield(a, 10, withvalues=True)
    # RESP2: a flat list; RESP3: [field, value] pairs.
    if pairs and isinstance(pairs[0], list):
        pairs = [x for p in pairs for x in p]
    eq(dict(zip(pairs[::2], pairs[1::2])), r.hgetall(a), "HRANDFIELD WITHVALUES of the whole hash")
    r.set(d, "string")
    try:
        r.hget(d, "f")
        raise Failure("HGET of a string should fail")
    except redis.ResponseError as e:
        eq(str(e), "WRONGTYPE Operation against a key holding the wrong kind of value",
           "WRONGTYPE error")
    try:
        r.get(a)
        raise Failure("GET of a hash should fail")
    except redis.ResponseError as e:
        eq(str(e).split(" ")[0], "WRONGTYPE", "GET of a hash")
    eq(r.type(a), b"hash", "TYPE")
    eq(r.rename(a, g), True, "RENAME of a hash across shards")
    eq(r.hgetall(g), {b"f1": b"w1", b"f2": b"42", b"f3": b"3.75"}, "HGETALL after RENAME")
    payload = r.dump(c)
    eq(r.restore(a, 0, payload), b"OK", "RESTORE of a hash DUMP")
    eq(r.hgetall(a), fields, "HGETALL after RESTORE")


def step_sets(r, keys):
    a, c, d, g = keys
    eq(r.sadd(a, 1, 2, 3), 3, "SADD")
    eq(r.sadd(a, 3, 4), 1, "SADD of one new member")
    eq(r.object("encoding", a), b"intset", "OBJECT ENCODING of integers")
    eq(r.smembers(a), {b"1", b"2", b"3", b"4"}, "SMEMBERS")
    eq(r.smembers("missing"), set(), "SMEMBERS of a missing key")
    eq(r.scard(a), 4, "SCARD")
    eq(r.sismember(a, 2), True, "SISMEMBER")
    eq(r.sismember(a, 9), False, "SISMEMBER of a missing member")
    eq(r.smismember(a, [1, 9, 4]), [True, False, True], "SMISMEMBER")
    eq(r.srem(a, 4, 9), 1, "SREM")
    eq(r.sadd(c, 3, 5, "x"), 3, "SADD on another shard")
    eq(r.object("encoding", c), b"hashtable", "OBJECT ENCODING of strings")
    eq(r.sadd(d, 3, "y"), 2, "SADD on a third shard")
    eq(r.sinter(a, c), {b"3"}, "SINTER across shards")
    eq(r.sinter(a, c, d), {b"3"}, "SINTER of three shards")
    eq(r.sunion(a, c, d), {b"1", b"2", b"3", b"5", b"x", b"y"}, "SUNION across shards")
    eq(r.sdiff(a, c), {b"1", b"2"}, "SDIFF across shards")
    eq(r.sintercard(3, [a, c, d]), 1, "SINTERCARD")
    eq(r.sintercard(2, [c, c], limit=2), 2, "SINTERCARD LIMIT")
    eq(r.sunionstore(g, [a, c, d]), 6, "SUNIONSTORE across shards")
    eq(r.smembers(g), {b"1", b"2", b"3", b"5", b"x", b"y"}, "the stored union")
    eq(r.sinterstore(g, [a, c]), 1, "SINTERSTORE")
    eq(r.sdiffstore(g, [c, a, d]), 2, "SDIFFSTORE")
    eq(r.smembers(g), {b"5", b"x"}, "the stored difference")
    eq(r.sinterstore(g, [a, "missing"]), 0, "SINTERSTORE of a missing key")
    eq(r.exists(g), 0, "an empty STORE deletes the destination")
    eq(r.smove(c, a, "x"), True, "SMOVE across shards")
    eq(r.smove(c, a, "x"), False, "SMOVE of a member no longer there")
    eq(r.smembers(a), {b"1", b"2", b"3", b"x"}, "the destination after SMOVE")
    eq(r.object("encoding", a), b"hashtable", "SMOVE of a string converts an intset")
    members = {f"m{i}".encode() for i in range(500)}
    eq(r.sadd(g, *members), 500, "SADD of 500 members")
    eq(set(r.sscan_iter(g, count=9)), members, "sscan_iter(count=9)")
    eq(set(r.sscan_iter(g, match="m1*")), {m for m in members if m.startswith(b"m1")},
       "sscan_iter(match='m1*')")
    eq(list(r.sscan_iter("missing")), [], "sscan_iter of a missing key")
    rand = r.srandmember(g, 10)
    eq(len(set(rand)), 10, "SRANDMEMBER 10 gives 10 distinct members")
    if not set(rand) <= members:
        raise Failure(f"SRANDMEMBER 10: {rand!r}")
    eq(len(r.srandmember(d, -5)), 5, "SRANDMEMBER -5 repeats members")
    popped = r.spop(g, 100)
    eq(len(set(popped)), 100, "SPOP 100")
    eq(r.scard(g), 400, "SCARD after SPOP 100")
    eq(r.smismember(g, list(popped)[:3]), [False] * 3, "popped members are gone")
    eq(r.spop(d, 10) is not None and r.exists(d), 0, "SPOP of every member deletes the key")
    r.set("str", "s")
    try:
        r.smembers("str")
        raise Failure("SMEMBERS of a string should fail")
    except redis.ResponseError as e:
        eq(str(e).split(" ")[0], "WRONGTYPE", "SMEMBERS of a string")


def step_collection_transactions(r, keys, other):
    a, c, d, g = keys
    r.sadd(a, "t1", "t2")
    p = r.pipeline()  # MULTI ... EXEC across shards
    p.hset(c, mapping={"n": 1})
    p.hincrby(c, "n", 9)
    p.smove(a, d, "t1")
    p.sunionstore(g, [a, d])
    p.smembers(g)
    p.hgetall(c)
    p.scard(a)
    res = p.execute()
    eq(res, [1, 10, True, 2, {b"t1", b"t2"}, {b"n": b"10"}, 1],
       "MULTI/EXEC of hash and set commands across shards")
    p = r.pipeline(transaction=False)
    for i in range(100):
        p.hincrby(c, "n", 1)
        p.sadd(d, f"p{i}")
    res = p.execute()
    eq(res[-2:], [110, 1], "the last of 200 pipelined HINCRBY and SADD")
    eq(r.scard(d), 101, "SCARD after the pipeline")
    # WATCH of a hash and a set: another client's HSET aborts EXEC.
    with r.pipeline() as p:
        p.watch(c, d)
        n = int(p.hget(c, "n"))
        other.hset(c, "other", "1")
        p.multi()
        p.hset(c, "n", n + 1)
        try:
            p.execute()
            raise Failure("EXEC after a watched hash changed should abort")
        except redis.WatchError:
            pass
    eq(r.hget(c, "n"), b"110", "the aborted transaction wrote nothing")
    with r.pipeline() as p:
        p.watch(d)
        other.sadd(d, "p0")  # already a member: the set does not change
        p.multi()
        p.srem(d, "p1")
        eq(p.execute(), [1], "EXEC after a SADD that changed nothing")


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
    ("hashes: every command, hscan_iter, HRANDFIELD, WRONGTYPE, RENAME, DUMP/RESTORE", step_hashes),
    ("sets: every command, set algebra across shards, sscan_iter, SPOP, SMOVE", step_sets),
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
    steps.append(("hash and set commands in pipelines, MULTI/EXEC and WATCH",
                  lambda: step_collection_transactions(r, keys, other)))
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
