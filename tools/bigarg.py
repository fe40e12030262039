"""Big arguments, measured (loopback only, bounded: about 2.5 GB of traffic).

usage: python3 tools/bigarg.py BINARY [extra server flags...]
BINARY is a shardcache binary or redis-server. Starts it on a fresh
directory, then: a 512 MB SET and a 512 MB EXISTS while another client
PINGs every 5 ms (time of each, worst PING); three 256 MB SET + DEL cycles
(RSS from /proc/PID/status, used_memory and mem_clients_normal after each);
RSS after 2.5 s idle and after MEMORY PURGE."""
import socket, time, sys, os, subprocess, threading, tempfile, re

binary = sys.argv[1]; extra = sys.argv[2:]
d = tempfile.mkdtemp(prefix="bigarg-")
if binary.endswith("redis-server"):
    port = 7793
    proc = subprocess.Popen([binary, "--port", str(port), "--dir", d, "--save", "", "--appendonly", "yes"] + extra, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
else:
    proc = subprocess.Popen([binary, "--port", "0", "--dir", d] + extra, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    port = None
    while port is None:
        line = proc.stderr.readline().decode()
        m = re.search(r"listening on [\d.]+:(\d+)", line)
        if m: port = int(m.group(1))
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()

def rss_mb():
    for l in open(f"/proc/{proc.pid}/status"):
        if l.startswith("VmRSS:"): return int(l.split()[1]) / 1024
def conn():
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(60); return s
def enc(*a):
    a = [x if isinstance(x, bytes) else str(x).encode() for x in a]
    return b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a)
def reply(s):
    buf = b""
    while not buf.endswith(b"\r\n"):
        buf += s.recv(1 << 16)
    if buf.startswith(b"$") and not buf.startswith(b"$-1"):
        n = int(buf[1:buf.index(b"\r\n")])
        while len(buf) < buf.index(b"\r\n") + 2 + n + 2:
            buf += s.recv(1 << 20)
    return buf
def call(s, *a):
    s.sendall(enc(*a)); return reply(s)
def info(s, field):
    t = call(s, "INFO", "memory").decode()
    m = re.search(field + r":(\d+)", t); return int(m.group(1)) if m else None

chunk = b"x" * (1 << 20)
def big(s, cmd, key, mb):
    s.sendall(b"*3\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n" % (len(cmd), cmd, len(key), key, mb << 20) if cmd == b"SET"
              else b"*2\r\n$%d\r\n%s\r\n$%d\r\n" % (len(cmd), cmd, mb << 20))
    for _ in range(mb): s.sendall(chunk)
    if cmd == b"SET": s.sendall(b"\r\n")
    else: s.sendall(b"\r\n")
    return reply(s)

c = conn()
print(f"start: rss {rss_mb():.0f} MB")
# 1. stall: a PING client while a 512 MB SET (then EXISTS) is in flight
for cmd in (b"SET", b"EXISTS"):
    lat = []; stop = [False]
    def pinger():
        p = conn()
        while not stop[0]:
            t = time.perf_counter(); call(p, "PING"); lat.append(time.perf_counter() - t); time.sleep(0.005)
    th = threading.Thread(target=pinger); th.start(); time.sleep(0.1)
    t0 = time.perf_counter(); r = big(c, cmd, b"big", 512); t1 = time.perf_counter()
    time.sleep(0.1); stop[0] = True; th.join()
    print(f"512 MB {cmd.decode()}: {r[:20]!r} in {t1-t0:.2f} s; PING max {max(lat)*1000:.0f} ms, p50 {sorted(lat)[len(lat)//2]*1000:.1f} ms over {len(lat)} pings; rss {rss_mb():.0f} MB")
call(c, "DEL", "big"); time.sleep(0.3)
print(f"after DEL: rss {rss_mb():.0f} MB used_memory {info(c, 'used_memory')}")
# 2. memory after 3 x (256 MB SET + DEL)
for i in range(3):
    big(c, b"SET", b"big", 256); call(c, "DEL", "big")
    time.sleep(0.3)
    print(f"cycle {i+1}: rss {rss_mb():.0f} MB used_memory {info(c, 'used_memory')} clients {info(c, 'mem_clients_normal')}")
time.sleep(2.5)
print(f"idle 2.5 s: rss {rss_mb():.0f} MB")
print("MEMORY PURGE", call(c, "MEMORY", "PURGE")); time.sleep(0.2)
print(f"after purge: rss {rss_mb():.0f} MB")
proc.kill(); proc.wait()
subprocess.run(["rm", "-rf", d])
