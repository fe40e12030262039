"""redis-py's PubSub against a server (tests/pubsub.rs runs it against
shardcache, and against redis-server under SHARDCACHE_TEST_AGAINST_REDIS=1).

Over RESP2 and RESP3: subscribe / psubscribe / ssubscribe confirmations,
messages from a publisher on another connection, ping in subscribed mode,
unsubscribe, PUBSUB introspection, and a handler thread (run_in_thread).
Exits non-zero with the failing check on stderr.
"""
import argparse
import sys
import threading
import time

import redis


def wait_message(p, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = p.get_message(timeout=0.5)
        if m is not None:
            return m
    raise AssertionError("no message within %.1fs" % timeout)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def scenario(host, port, protocol):
    r = redis.Redis(host=host, port=port, protocol=protocol)
    pub = redis.Redis(host=host, port=port, protocol=protocol)
    p = r.pubsub()
    p.subscribe("py:a")
    m = wait_message(p)
    check(m == {"type": "subscribe", "pattern": None, "channel": b"py:a", "data": 1}, m)
    p.psubscribe("py:b*")
    m = wait_message(p)
    check(m == {"type": "psubscribe", "pattern": None, "channel": b"py:b*", "data": 2}, m)
    check(pub.pubsub_numsub("py:a") == [(b"py:a", 1)], pub.pubsub_numsub("py:a"))
    check(pub.pubsub_numpat() == 1, "numpat")
    check(pub.publish("py:a", "hello") == 1, "publish count")
    m = wait_message(p)
    check(m == {"type": "message", "pattern": None, "channel": b"py:a", "data": b"hello"}, m)
    check(pub.publish("py:bee", b"\x00\xff") == 1, "pattern count")
    m = wait_message(p)
    check(m == {"type": "pmessage", "pattern": b"py:b*", "channel": b"py:bee", "data": b"\x00\xff"}, m)
    # In order, many of them.
    for i in range(200):
        pub.publish("py:a", str(i))
    for i in range(200):
        m = wait_message(p)
        check(m["data"] == str(i).encode(), m)
    p.ping("hi")
    m = wait_message(p)
    check(m["type"] == "pong", m)
    p.unsubscribe("py:a")
    m = wait_message(p)
    check(m == {"type": "unsubscribe", "pattern": None, "channel": b"py:a", "data": 1}, m)
    p.punsubscribe()
    m = wait_message(p)
    check(m["type"] == "punsubscribe" and m["data"] == 0, m)
    check(pub.publish("py:a", "gone") == 0, "nobody left")
    p.close()

    # Shard channels.
    s = r.pubsub()
    s.ssubscribe("py:s")
    m = wait_message(s)
    check(m["type"] == "ssubscribe" and m["data"] == 1, m)
    check(pub.spublish("py:s", "x") == 1, "spublish count")
    m = wait_message(s)
    check(m["type"] == "smessage" and m["data"] == b"x", m)
    s.close()

    # A handler thread.
    got = []
    done = threading.Event()

    def handler(msg):
        got.append(msg["data"])
        if len(got) == 50:
            done.set()

    h = r.pubsub()
    h.subscribe(**{"py:h": handler})
    t = h.run_in_thread(sleep_time=0.01)
    deadline = time.time() + 5
    while pub.pubsub_numsub("py:h")[0][1] != 1:
        check(time.time() < deadline, "handler never subscribed")
        time.sleep(0.01)
    for i in range(50):
        pub.publish("py:h", str(i))
    check(done.wait(10), "handler got %d of 50" % len(got))
    t.stop()
    t.join(5)
    check(got == [str(i).encode() for i in range(50)], got)
    h.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    for protocol in (2, 3):
        try:
            scenario(a.host, a.port, protocol)
        except Exception as e:
            print("RESP%d: %r" % (protocol, e), file=sys.stderr)
            raise
    print("ok")


if __name__ == "__main__":
    main()
