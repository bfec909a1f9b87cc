#!/usr/bin/env bash
# Prototype of issue 11's NAT gateway pair (docs/design/nat-failover.md), with plain
# namespaces, veths, nftables and conntrack-tools (no cove): gateway A fails, its
# partner B takes over A's private address, and open connections survive because
# A's conntrack entries were replicated into B beforehand.
#
#   c1 (10.80.1.10), c2 (10.80.1.11)   two function ENIs of a private subnet
#        |  veths rc1, rc2
#   rt   host router: per-link mark and conntrack zone, cove's policy routing (the
#        private route table: 0.0.0.0/0 via 10.80.0.10 onlink), cove's 1:1 NAT of
#        public IPs on the internet link (public_in / public_out, keyed by link)
#        |  rna, rnb                     |  rig
#   na   NAT gateway A, eth0 10.80.0.10   out   the internet stand-in, 198.51.100.1
#   nb   NAT gateway B, eth0 10.80.0.11         (TCP echo :9000, UDP sink :9001)
#   A's public IP 203.0.113.10, B's 203.0.113.11 (the router's maps).
#
# Takeover (done by a health checker in the router namespace, <= 3 commands):
# B adds 10.80.0.10/32 to its eth0; the router's /32 to 10.80.0.10 and the private
# route table's default route move to B's link. The router's 1:1 NAT is untouched
# (it maps 10.80.0.10 <-> 203.0.113.10 whichever link carries it), so each flow
# keeps its public source IP. B's table source-translates A's subnets to A's
# address (static, ready before any failure); A's flows are translated by the
# conntrack entries replicated from A (`conntrack -E` in A, `conntrack -I` with
# `--src-nat ip:port` in B).
#
# Both clients open their connections from the same source ports, so A must remap
# half of them: without replication B would translate them again, differently.
#
# Phases (checks print ok/FAIL; exit 1 if one fails):
#  1. PROTO_CONNS connections (default 1,000) and the UDP streams through A, all
#     replicated into B; then A fails (namespace deleted), B takes over: every
#     connection keeps echoing with the same public IP, 0 RSTs anywhere, UDP gap;
#     fail-back (B's entries synced into a new A, health-gated, routes moved
#     back): the same; then the same again with A's link down;
#  2. the clients restart with PROTO_GAP_CONNS connections (default 100: with
#     1,000 the shared machine delays the UDP sender itself by up to hundreds of
#     ms, see the baselines) and PROTO_ROUNDS failovers (default 10; namespace
#     deleted / link down alternating), each with a fail-back: every round keeps
#     every connection; failover gap p50/p99 (UDP: last packet via A -> first via
#     B), detection time, fail-back gap; then PROTO_PROBE_ROUNDS more (default
#     half) with detection by probes only (3 x 100 ms);
#  3. controls: without replication connections are lost (reset by the server);
#     entries inserted as `conntrack -L` lists them (translated reply tuple, no
#     NAT attribute) are accepted but never translate (the router's guard drops
#     their packets).
# Before each failure the script waits until B holds a copy of each of A's
# entries (the replication lag is reported separately, after the first burst).
# Needs root.
#
#   PROTO_CONNS        TCP connections of phase 1 (default 1000, half per client)
#   PROTO_GAP_CONNS    TCP connections during the rounds (default 100)
#   PROTO_ROUNDS       failover rounds for the gap figures (default 10)
#   PROTO_PROBE_ROUNDS rounds with detection by probes only (default ROUNDS / 2)
#   PROTO_PROBE        1 = the first checker also detects by probes only
#   PROTO_LIBERAL      nf_conntrack_tcp_be_liberal in the gateways (default 1)
#   PROTO_DEBUG        1 = print tables, lost connections, checker and replicator logs
set -euo pipefail
for t in conntrack nsenter tcpdump; do
  command -v "$t" >/dev/null || apt-get install -y -qq conntrack tcpdump >/dev/null
done
p=cvnf
conns=${PROTO_CONNS:-1000}
rounds=${PROTO_ROUNDS:-10}
probe_only=${PROTO_PROBE:-0}
nss=(c1 c2 rt na nb out)
tmp=$(mktemp -d /tmp/cvnf.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for n in "${nss[@]}"; do ip netns pids "$p-$n" 2>/dev/null | xargs -r kill 2>/dev/null || true; done
  for n in "${nss[@]}"; do ip netns del "$p-$n" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
nsx() { local n=$1; shift; ip netns exec "$p-$n" "$@"; }
fail=0
expect() { # $1 = description, $2 = wanted value, $3 = value
  if [ "$2" = "$3" ]; then echo "ok   $1: $3"; else echo "FAIL $1: $3 (want $2)"; fail=1; fi
}

VPC=0x100000      # VPC 1 in the high 12 bits: the VPC table (a /32 per ENI)
PRIV=0x100001     # the private subnet's route table
PUB=0x100002      # the NAT gateways' (public) subnet's route table

# A NAT gateway namespace: cove's table, plus (pair) A's subnets translated to A's
# address, and echo requests from the router answered (the health probe).
nat_ns() { # $1 = na|nb, $2 = its address
  local n=$1 ip=$2
  ip netns add "$p-$n"
  nsx "$n" ip link set lo up
  ip link add eth0 netns "$p-$n" type veth peer name "r$n" netns "$p-rt"
  nsx "$n" ip addr add "$ip/32" dev eth0
  nsx "$n" ip link set eth0 up
  nsx "$n" ip route add default via 10.80.0.1 dev eth0 onlink
  nsx "$n" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  nsx "$n" nft -f - <<EOF
table inet cove {
  chain filter_forward {
    type filter hook forward priority filter; policy accept;
    meta l4proto != { tcp, udp, icmp } drop
  }
  chain translate {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "eth0" ip saddr != { 10.80.0.10, 10.80.0.11 } ip saddr 10.80.1.0/24 meta l4proto { tcp, udp } snat ip to 10.80.0.10:1024-65535
    oifname "eth0" ip saddr != { 10.80.0.10, 10.80.0.11 } ip saddr 10.80.1.0/24 snat ip to 10.80.0.10
    oifname "eth0" ip saddr != { 10.80.0.10, 10.80.0.11 } meta l4proto { tcp, udp } snat ip to $ip:1024-65535
    oifname "eth0" ip saddr != { 10.80.0.10, 10.80.0.11 } snat ip to $ip
  }
  chain filter_input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iifname "eth0" ip saddr 10.80.0.1 icmp type echo-request accept
  }
}
EOF
  nsx rt ip link set "r$n" up
  nsx rt ip addr add 10.80.0.1/32 dev "r$n"
  nsx rt nft add element inet cove link_table "{ \"r$n\" : $PUB }"
  nsx rt nft add element inet cove link_zone "{ \"r$n\" : 1 }"
}

topology() {
  for n in c1 c2 rt out; do ip netns add "$p-$n"; nsx "$n" ip link set lo up; done
  nsx rt sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  # The router's table: cove's shape (prerouting mark and zone from the link, the
  # 1:1 NAT keyed by the internet link, the guard that only public-IP owners leave).
  nsx rt nft -f - <<EOF
table inet cove {
  map link_table { typeof iifname : meta mark; elements = { "rc1" : $PRIV, "rc2" : $PRIV, "rig" : $VPC } }
  map link_zone { typeof iifname : ct zone; elements = { "rc1" : 1, "rc2" : 1, "rig" : 1 } }
  set igw_links { typeof iifname; elements = { "rig" } }
  map public_to_private { typeof iifname . ip daddr : ip daddr;
    elements = { "rig" . 203.0.113.10 : 10.80.0.10, "rig" . 203.0.113.11 : 10.80.0.11 } }
  map private_to_public { typeof oifname . ip saddr : ip saddr;
    elements = { "rig" . 10.80.0.10 : 203.0.113.10, "rig" . 10.80.0.11 : 203.0.113.11 } }
  set igw_sources { typeof oifname . ip saddr; elements = { "rig" . 10.80.0.10, "rig" . 10.80.0.11 } }
  chain from_links {
    type filter hook prerouting priority -450; policy accept;
    meta mark set iifname map @link_table
    ct zone set iifname map @link_zone
  }
  chain public_in {
    type nat hook prerouting priority dstnat; policy accept;
    iifname @igw_links dnat ip to iifname . ip daddr map @public_to_private
  }
  chain public_out {
    type nat hook postrouting priority srcnat; policy accept;
    oifname @igw_links snat ip to oifname . ip saddr map @private_to_public
  }
  chain filter_forward {
    type filter hook forward priority filter; policy drop;
    oifname @igw_links oifname . ip saddr != @igw_sources counter drop
    ct state established,related accept
    ct state invalid counter drop
    accept
  }
  chain filter_input {
    type filter hook input priority filter; policy drop;
    icmp type echo-reply accept
  }
}
EOF
  local i=1
  for c in c1 c2; do
    ip link add eth0 netns "$p-$c" type veth peer name "r$c" netns "$p-rt"
    nsx "$c" ip addr add "10.80.1.1$((i - 1))/32" dev eth0
    nsx "$c" ip link set eth0 up
    nsx "$c" ip route add default via 10.80.1.1 dev eth0 onlink
    nsx rt ip addr add 10.80.1.1/32 dev "r$c"
    nsx rt ip link set "r$c" up
    nsx rt ip route add "10.80.1.1$((i - 1))/32" dev "r$c" table $((VPC))
    i=$((i + 1))
  done
  ip link add rig netns "$p-rt" type veth peer name eth0 netns "$p-out"
  nsx rt ip addr add 100.64.0.1/30 dev rig
  nsx rt ip link set rig up
  nsx out ip addr add 100.64.0.2/30 dev eth0
  nsx out ip addr add 198.51.100.1/32 dev eth0
  nsx out ip link set eth0 up
  nsx out ip route add 203.0.113.0/24 via 100.64.0.1
  nat_ns na 10.80.0.10
  nat_ns nb 10.80.0.11
  nsx rt ip route add 10.80.0.10/32 dev rna table $((VPC))
  nsx rt ip route add 10.80.0.11/32 dev rnb table $((VPC))
  nsx rt ip route add blackhole default table $((VPC))
  nsx rt ip route add default via 10.80.0.10 dev rna onlink table $((PRIV))
  nsx rt ip route add default via 100.64.0.2 dev rig onlink table $((PUB))
  nsx rt ip rule add to 10.80.0.0/16 fwmark $VPC/0xfff00000 lookup $((VPC)) priority 100
  nsx rt ip rule add fwmark $PRIV lookup $((PRIV)) priority 200
  nsx rt ip rule add fwmark $PUB lookup $((PUB)) priority 201
  nsx rt ip rule add fwmark $VPC/0xfff00000 lookup $((VPC)) priority 300
  # RSTs counted wherever a TCP endpoint is (sent and received).
  for n in c1 c2 out; do
    nsx "$n" nft -f - <<'EOF'
table inet probe {
  counter rst_in { }
  counter rst_out { }
  chain i { type filter hook input priority -500; policy accept; tcp flags rst counter name rst_in; }
  chain o { type filter hook output priority -500; policy accept; tcp flags rst counter name rst_out; }
}
EOF
  done
}
rsts() { # every RST seen in c1, c2, out (in + out)
  local s=0 n c
  for n in c1 c2 out; do
    for c in rst_in rst_out; do
      s=$((s + $(nsx "$n" nft list counter inet probe "$c" | sed -n 's/.*packets \([0-9]*\).*/\1/p')))
    done
  done
  echo "$s"
}

if [ "${PROTO_STAGE:-}" = topology ]; then topology; trap - EXIT; echo "$tmp"; exit 0; fi

# The programs: TCP echo server and UDP sink (out), clients and UDP senders (c1,
# c2), the conntrack replicator (host namespace: `conntrack -E` in the source,
# `conntrack -I` in the target) and the health checker (router namespace).
cat > "$tmp/h.py" <<'EOF'
import asyncio, ctypes, json, os, select, signal, socket, struct, subprocess, sys, threading, time, queue

signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # until each program installs its handler

def dump(path, obj):
    with open(path + ".tmp", "w") as f: json.dump(obj, f)
    os.replace(path + ".tmp", path)

def server(out):
    conns, udp = [], {}
    class Echo(asyncio.Protocol):
        def connection_made(self, t):
            self.t = t; self.c = {"peer": "%s:%d" % t.get_extra_info("peername"), "bytes": 0, "err": None, "last": 0}
            conns.append(self.c)
        def data_received(self, d):
            self.c["bytes"] += len(d); self.c["last"] = time.monotonic(); self.t.write(d)
        def connection_lost(self, e):
            self.c["err"] = repr(e) if e else "eof"
    class Sink(asyncio.DatagramProtocol):
        def datagram_received(self, d, a):
            seq, = struct.unpack("!Q", d[:8])
            udp.setdefault("%s:%d" % a, []).append((seq, time.monotonic()))
    async def main():
        loop = asyncio.get_running_loop()
        await loop.create_server(Echo, "198.51.100.1", 9000, backlog=4096)
        await loop.create_datagram_endpoint(Sink, local_addr=("198.51.100.1", 9001))
        loop.add_signal_handler(signal.SIGUSR1, lambda: dump(out, {"conns": conns, "udp": udp}))
        open(out + ".ready", "w").close()
        await asyncio.Event().wait()
    asyncio.run(main())

def client(n, port0, out):
    conns = []
    async def one(i):
        c = {"port": port0 + i, "sent": 0, "recv": 0, "err": None, "last": 0}
        conns.append(c)
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port0 + i)); s.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(s, ("198.51.100.1", 9000))
            r, w = await asyncio.open_connection(sock=s)
        except OSError as e:
            c["err"] = "connect: " + repr(e); return
        async def rd():
            while True:
                d = await r.read(100)
                if not d: raise EOFError()
                c["recv"] += len(d); c["last"] = time.monotonic()
        t = asyncio.ensure_future(rd())
        await asyncio.sleep(0.1 * (i % 10) / 10)
        try:
            while not t.done():
                w.write(b"x"); c["sent"] += 1
                await asyncio.sleep(0.1)
            t.result()
        except Exception as e:
            c["err"] = repr(e)
    async def main():
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, lambda: dump(out, conns))
        open(out + ".ready", "w").close()
        for k in range(0, n, 50):
            for i in range(k, min(n, k + 50)): asyncio.ensure_future(one(i))
            await asyncio.sleep(0.05)
        await asyncio.Event().wait()
    asyncio.run(main())

def udp(port, interval):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", port))
    s.connect(("198.51.100.1", 9001)); seq = 0; t = time.monotonic()
    while True:
        try: s.send(struct.pack("!Q", seq))
        except OSError: pass
        seq += 1; t += interval
        d = t - time.monotonic()
        if d > 0: time.sleep(d)

libc = ctypes.CDLL(None, use_errno=True)
def enter(ns):
    fd = os.open("/run/netns/" + ns, os.O_RDONLY)
    if libc.setns(fd, 0x40000000) != 0: raise OSError(ctypes.get_errno(), "setns " + ns)
    os.close(fd)

def parse(line):
    """A `conntrack -E`/`-L` line -> (event, proto, state, orig, reply) or None."""
    w = line.split()
    ev = None
    if w and w[0].startswith("["): ev = w.pop(0).strip("[]")
    if len(w) < 3 or w[0] not in ("tcp", "udp"): return None
    proto = w[0]; state = w[3] if proto == "tcp" else None
    kv = [x.split("=", 1) for x in w if "=" in x]
    t = [dict(), dict()]; k = 0
    for key, val in kv:
        if key in ("src", "dst", "sport", "dport"):
            if key in t[k] : k = 1
            if key in t[k]: break
            t[k][key] = val
    if len(t[1]) < 4: return None
    return ev, proto, state, t[0], t[1]

def insert_args(proto, state, o, r):
    """conntrack -I for an entry translated in the source gateway: the original tuple,
    the reply as its plain inverse, and the source NAT (ip:port) the kernel applies to
    it (a reply tuple given already translated is accepted but never translated)."""
    a = ["-I", "-p", proto, "-s", o["src"], "-d", o["dst"], "--sport", o["sport"], "--dport", o["dport"],
         "-r", o["dst"], "-q", o["src"], "--reply-port-src", o["dport"], "--reply-port-dst", o["sport"]]
    if proto == "tcp":
        a += ["--state", state or "ESTABLISHED", "-u", "SEEN_REPLY,ASSURED", "-t", "432000"]
    else:
        a += ["-u", "SEEN_REPLY,ASSURED", "-t", "180"]
    if (r["dst"], r["dport"]) != (o["src"], o["sport"]):
        a += ["--src-nat", "%s:%s" % (r["dst"], r["dport"])]
    return a

def wrong_form(src, sport):
    """Print conntrack -I arguments for src's entries of source port `sport` as they
    are listed: the reply tuple already translated, no NAT attribute."""
    d = subprocess.run(["nsenter", "--net=/run/netns/" + src, "conntrack", "-L", "-p", "tcp", "--orig-port-src", sport],
                       capture_output=True, text=True)
    for line in d.stdout.splitlines():
        e = parse(line)
        if not e: continue
        _, proto, state, o, r = e
        print(" ".join(["-I", "-p", proto, "-s", o["src"], "-d", o["dst"], "--sport", o["sport"], "--dport", o["dport"],
              "-r", r["src"], "-q", r["dst"], "--reply-port-src", r["sport"], "--reply-port-dst", r["dport"],
              "--state", "ESTABLISHED", "-u", "SEEN_REPLY,ASSURED", "-t", "432000"]))

def replicate(src, dst, log, only="-", sync_only=False):
    """Replay `src`'s NAT entries into `dst`: a bulk dump first, then events (only
    those translated to `only`, if given)."""
    enter(dst)
    # Four workers, each flow always on the same one (its events stay in order).
    qs = [queue.Queue() for _ in range(4)]; stats = {"ins": 0, "del": 0, "err": 0, "exists": 0}
    lf = open(log, "a")
    def worker(q):
        while True:
            args = q.get()
            p = subprocess.run(["conntrack"] + args, capture_output=True, text=True)
            if p.returncode != 0 and "exists" in p.stderr and "--src-nat" in args:
                stats["exists"] += 1
                g = subprocess.run(["conntrack", "-G"] + args[1:11], capture_output=True, text=True)
                e = parse(g.stdout.strip())
                if e and "%s:%s" % (e[4]["dst"], e[4]["dport"]) == args[args.index("--src-nat") + 1]:
                    q.task_done(); continue  # the same copy
                # The source is right about its own translations: whatever holds the
                # original or the translated reply tuple here (a stale copy of a
                # flow the source closed, whose port it has since reused) goes.
                stats["replaced"] = stats.get("replaced", 0) + 1
                o = ["-D"] + args[1:11]  # -p proto -s -d --sport --dport: the original tuple
                r = None
                if "--src-nat" in args:  # the translated reply tuple
                    ip, port = args[args.index("--src-nat") + 1].split(":")
                    r = ["-D", "-p", args[2], "-r", args[6], "-q", ip, "--reply-port-src", args[10], "--reply-port-dst", port]
                for d in (o, r):
                    if d: subprocess.run(["conntrack"] + d, capture_output=True)
                p = subprocess.run(["conntrack"] + args, capture_output=True, text=True)
            if p.returncode == 0: stats["del" if args[0] == "-D" else "ins"] += 1
            else:
                stats["err"] += 1
                print("error", " ".join(args), p.stderr.strip().splitlines()[-1:], file=lf, flush=True)
            q.task_done()
    for q in qs: threading.Thread(target=worker, args=(q,), daemon=True).start()
    class Q:
        def put(self, args): qs[hash((args[4], args[8])) % 4].put(args)
        def join(self):
            for q in qs: q.join()
    q = Q()
    def handle(e):
        if not e: return
        ev, proto, state, o, r = e
        if only != "-" and r["dst"] != only: return
        if ev == "DESTROY":
            q.put(["-D", "-p", proto, "-s", o["src"], "-d", o["dst"], "--sport", o["sport"], "--dport", o["dport"]])
        elif (proto == "udp" and ev in (None, "NEW")) or state == "ESTABLISHED":
            q.put(insert_args(proto, state, o, r))
    ev = None
    def key(e):
        _, proto, _, o, r = e
        return (proto, o["src"], o["dst"], o["sport"], o["dport"], r["dst"], r["dport"])
    def resync(why):
        d = subprocess.run(["nsenter", "--net=/run/netns/" + src, "conntrack", "-L"], capture_output=True, text=True)
        have = subprocess.run(["conntrack", "-L"], capture_output=True, text=True)
        same = {key(e) for e in map(parse, have.stdout.splitlines()) if e}
        for line in d.stdout.splitlines():
            e = parse(line)
            if e and key(e) not in same: handle(e)
        q.join()
        with open(log, "a") as f: print("sync", why, json.dumps(stats), file=f)
    if not sync_only:
        # A burst of events overflows the socket (ENOBUFS: events lost, `conntrack`
        # says so on stderr): then a full dump again, as cove's observer does.
        ev = subprocess.Popen(["nsenter", "--net=/run/netns/" + src, "conntrack", "-E", "-e", "NEW,UPDATE,DESTROY",
                               "--buffer-size", "8388608"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        def errors():
            for line in ev.stderr:
                if "ENOBUFS" in line:
                    with open(log, "a") as f: print("ENOBUFS", file=f)
                    resync("after ENOBUFS")
        threading.Thread(target=errors, daemon=True).start()
    resync("start")
    if sync_only: return
    def report(*_):
        with open(log, "a") as f: print("stats", json.dumps(stats), file=f)
    signal.signal(signal.SIGUSR1, report)
    for line in ev.stdout: handle(parse(line))

IFF_LOWER_UP = 0x10000
def checker(link, peer_ns, addr, log, probe_only, rearm):
    """Health of the gateway behind `link` (router namespace): rtnetlink link events
    (deleted, or no carrier) and an echo probe every 100 ms, 3 misses. On failure:
    the partner takes `addr`, the routes move to the partner's link."""
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    nl.bind((0, 1))  # RTMGRP_LINK
    ic = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ic.setsockopt(socket.SOL_SOCKET, 36, 0x100000)  # SO_MARK: the VPC table
    bound = [False]
    def bind():  # to the link's current ifindex (a recreated link has a new one)
        try:
            ic.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, link.encode()); bound[0] = True
        except OSError:
            bound[0] = False
    bind()
    def csum(b):
        s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
        return ~s & 0xffff
    seq, misses, pending = 0, 0, None
    armed = True; nxt = time.monotonic()
    def takeover(why, t0):
        subprocess.run(["nsenter", "--net=/run/netns/" + peer_ns, "ip", "addr", "add", addr + "/32", "dev", "eth0"])
        subprocess.run(["ip", "-batch", "-"], input=(
            "route replace %s/32 dev %s table %d\nroute replace default via %s dev %s onlink table %d\n"
            % (addr, "r" + peer_ns.split("-")[1], 0x100000, addr, "r" + peer_ns.split("-")[1], 0x100001)).encode())
        t1 = time.monotonic()
        with open(log, "a") as f: print("takeover", why, "%.6f %.6f" % (t0, t1), file=f)
    while True:
        now = time.monotonic()
        if not armed:
            if os.path.exists(rearm):
                # the link may be a new one (new ifindex): bind again; drop the link
                # events of its way back up
                os.unlink(rearm); armed = True; misses = 0; pending = None
                bind()
                nl.setblocking(False)
                try:
                    while nl.recv(65536): pass
                except BlockingIOError: pass
                nl.setblocking(True); nxt = time.monotonic()
                with open(log, "a") as f: print("armed %.6f" % now, file=f)
            time.sleep(0.02); continue
        r, _, _ = select.select([nl, ic], [], [], max(0, nxt - now))
        now = time.monotonic()
        if nl in r:
            data = nl.recv(65536); off = 0
            while off + 32 <= len(data):
                ln, typ = struct.unpack_from("=IH", data, off)
                if ln < 16: break
                _, _, _, idx, flags, _ = struct.unpack_from("=BBHiII", data, off + 16)
                a = off + 32; name = None
                while a + 4 <= off + ln:
                    al, at = struct.unpack_from("=HH", data, a)
                    if al < 4: break
                    if at == 3: name = data[a + 4:a + al].split(b"\0")[0].decode()
                    a += (al + 3) & ~3
                if name == link and not probe_only and (typ == 17 or not flags & IFF_LOWER_UP):
                    armed = False; takeover("link-deleted" if typ == 17 else "link-down", now); break
                off += (ln + 3) & ~3
            if not armed: continue
        if ic in r:
            d = ic.recv(2048); ihl = (d[0] & 15) * 4
            if d[ihl] == 0 and pending is not None and struct.unpack_from("!H", d, ihl + 6)[0] == pending:
                pending = None; misses = 0
        if now >= nxt:
            if pending is not None:
                misses += 1
                if misses >= 3:
                    armed = False; takeover("probe", now); continue
            if not bound[0]: bind()
            seq = (seq + 1) & 0xffff; pending = seq
            h = struct.pack("!BBHHH", 8, 0, 0, 0x4356, seq) + b"cvnf"
            h = h[:2] + struct.pack("!H", csum(h)) + h[4:]
            try: ic.sendto(h, (addr, 0))
            except OSError: pass
            nxt += 0.1
            if nxt < now: nxt = now + 0.1

def analyze(t_fail, t_snap, label, summary, *files):
    """Connections kept across the event at t_fail (still echoing in the last 0.5 s
    before t_snap, no error on either side), public source IPs, UDP gaps."""
    t_fail, t_snap = float(t_fail), float(t_snap)
    cl = [c for f in files[:-1] for c in json.load(open(f))]
    sv = json.load(open(files[-1]))
    ok = sum(1 for c in cl if c["err"] is None and c["last"] > t_snap - 0.5)
    errs = sum(1 for c in cl if c["err"] is not None)
    srv_ok = sum(1 for c in sv["conns"] if c["err"] is None and c["last"] > t_snap - 0.5)
    srv_err = sum(1 for c in sv["conns"] if c["err"] is not None)
    ips = sorted({c["peer"].split(":")[0] for c in sv["conns"]})
    gaps = []
    for peer, arr in sorted(sv["udp"].items()):
        w = [t for s, t in arr if t_fail - 0.5 <= t <= t_snap]
        after = [t for t in w if t > t_fail]
        if not after: gaps.append((peer, None)); continue
        g = max((b - a for a, b in zip(w, w[1:])), default=None)
        gaps.append((peer, g))
    res = {"label": label, "clients": len(cl), "kept": ok, "client_errors": errs, "server_kept": srv_ok,
           "server_errors": srv_err, "public_ips": ips, "udp_gaps_ms": [None if g is None else round(g * 1000, 1) for _, g in gaps],
           "udp_streams": [p for p, _ in gaps]}
    with open(summary, "a") as f: print(json.dumps(res), file=f)
    print(json.dumps(res))

cmd = sys.argv[1]
if cmd == "server": server(sys.argv[2])
elif cmd == "client": client(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
elif cmd == "udp": udp(int(sys.argv[2]), float(sys.argv[3]))
elif cmd == "replicate": replicate(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], len(sys.argv) > 6)
elif cmd == "analyze": analyze(*sys.argv[2:])
elif cmd == "wrong-form": wrong_form(sys.argv[2], sys.argv[3])
elif cmd == "checker": checker(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6] == "1", sys.argv[7])
EOF

topology
# Window tracking: entries replicated without the TCP window data (`conntrack -I`
# cannot set it) are picked up mid-stream, but with window scale 0; out-of-window
# packets would then be INVALID and leave untranslated (the router drops them).
# The NAT gateways track liberally (cove's replicator sets the per-entry flag).
for n in na nb; do nsx "$n" sysctl -qw net.netfilter.nf_conntrack_tcp_be_liberal="${PROTO_LIBERAL:-1}"; done
h() { python3 "$tmp/h.py" "$@"; }
mono() { python3 -c 'import time; print("%.6f" % time.monotonic())'; }
ip netns exec "$p-out" python3 "$tmp/h.py" server "$tmp/server.json" & srv=$!; pids+=("$srv")
sleep 0.5
repl=
start_repl() { # $1 = from, $2 = to, $3 = only entries translated to this address (or -)
  python3 "$tmp/h.py" replicate "$p-$1" "$p-$2" "$tmp/repl.log" "$3" & repl=$!; pids+=("$repl")
}
stop_repl() { # the replicator and its `conntrack -E` (which would keep its namespace alive)
  [ -n "$repl" ] || return 0
  local kids; kids=$(ps -o pid= --ppid "$repl" || true)
  kill "$repl" $kids 2>/dev/null || true; wait "$repl" 2>/dev/null || true; repl=
}
ip netns exec "$p-rt" python3 "$tmp/h.py" checker rna "$p-nb" 10.80.0.10 "$tmp/checker.log" "$probe_only" "$tmp/rearm" & checker=$!; pids+=("$checker")
start_repl na nb -
sleep 0.5
half=$((conns / 2))
ip netns exec "$p-c1" python3 "$tmp/h.py" client "$half" 20000 "$tmp/c1.json" & c1=$!; pids+=("$c1")
ip netns exec "$p-c2" python3 "$tmp/h.py" client "$((conns - half))" 20000 "$tmp/c2.json" & c2=$!; pids+=("$c2")
ip netns exec "$p-c1" python3 "$tmp/h.py" udp 30000 0.002 & pids+=($!)
ip netns exec "$p-c2" python3 "$tmp/h.py" udp 30000 0.002 & pids+=($!)
snap() { # clients' and server's state to files
  rm -f "$tmp/c1.json" "$tmp/c2.json" "$tmp/server.json"
  kill -USR1 "$c1" "$c2" "$srv"
  for _ in $(seq 100); do [ -s "$tmp/c1.json" ] && [ -s "$tmp/c2.json" ] && [ -s "$tmp/server.json" ] && break; sleep 0.05; done
}
echoing() { snap; python3 -c 'import json,os,sys,time; t=time.monotonic()
print(sum(1 for f in sys.argv[1:] if os.path.exists(f) for c in json.load(open(f)) if c["err"] is None and c["recv"] > 0))' "$tmp/c1.json" "$tmp/c2.json"; }
for f in c1 c2 server; do
  for _ in $(seq 100); do [ -e "$tmp/$f.json.ready" ] && break; sleep 0.1; done
done
t0=$(mono)
for _ in $(seq 120); do [ "$(echoing)" = "$conns" ] && break; sleep 0.5; done
t1=$(mono)
expect "TCP connections open and echoing through A" "$conns" "$(echoing)"
in_b() { nsx nb conntrack -L 2>/dev/null | grep -c 'dst=10.80.0.10 ' || true; }
for _ in $(seq 200); do [ "$(in_b)" -ge $((conns + 2)) ] && break; sleep 0.1; done
t2=$(mono)
remapped=$(nsx na conntrack -L -p tcp 2>/dev/null | awk '{for(i=1;i<=NF;i++){if($i~/^sport=/)s[++k]=$i; if($i~/^dport=/)d[++m]=$i}} s[1]!="sport="substr(d[2],7){n++} {k=0;m=0} END{print n+0}')
echo "     A's entries whose port it remapped (the clients share source ports): $remapped"
expect "A's entries replicated into B (TCP + 2 UDP)" "$((conns + 2))" "$(in_b)"
python3 -c "import sys; print('     replication: all %s entries in B %.2f s after the connections were all echoing (%.1f s to open them)' % (sys.argv[3], float(sys.argv[2]) - float(sys.argv[1]), float(sys.argv[1]) - float(sys.argv[4])))" "$t1" "$t2" "$((conns + 2))" "$t0"

takeovers() { cat "$tmp/checker.log" 2>/dev/null | grep -c '^takeover' || true; }
t_fail=
# B holds a copy of each of A's translated TCP/UDP entries (same original tuple,
# same translation): the replication has caught up.
caught_up() {
  local k='{for(i=1;i<=NF;i++){if($i~/^(src|dst|sport|dport)=/)printf "%s ",$i}; print ""}'
  local a b
  a=$(nsx na conntrack -L 2>/dev/null | grep -E '^(tcp .*ESTABLISHED|udp)' | grep 'dst=10.80.0.10 ' | awk "$k" | sort)
  b=$(nsx nb conntrack -L 2>/dev/null | grep -E '^(tcp|udp)' | grep 'dst=10.80.0.10 ' | awk "$k" | sort)
  [ -z "$(comm -23 <(echo "$a") <(echo "$b"))" ]
}
wait_caught_up() {
  local t0 t1; t0=$(mono)
  for _ in $(seq 200); do caught_up && break; sleep 0.1; done
  caught_up || { echo "FAIL B is still missing entries of A after 20 s"; fail=1; }
  t1=$(mono)
  python3 -c 'import sys; d=float(sys.argv[2])-float(sys.argv[1]); d > 0.5 and print("     (waited %.1f s for the replication to catch up)" % d)' "$t0" "$t1"
}
fail() { # $1 = deleted|down: A fails; the replication from A stops with it
  wait_caught_up
  if [ -n "${PROTO_DEBUG:-}" ]; then
    nsx na conntrack -L 2>/dev/null | grep -v icmp | sed 's/ \(mark\|use\)=[0-9]*//g; s/^[a-z]* *[0-9]* [0-9]* //' | sort > "$tmp/a.ct"
    nsx nb conntrack -L 2>/dev/null | grep -v icmp | sed 's/ \(mark\|use\)=[0-9]*//g; s/^[a-z]* *[0-9]* [0-9]* //' | sort > "$tmp/b.ct"
    echo "     (debug: A/B entries differing: $(comm -3 "$tmp/a.ct" "$tmp/b.ct" | head -5 | tr '\n\t' '; '))"
  fi
  stop_repl
  t_fail=$(mono)
  if [ "$1" = deleted ]; then
    # (a process left in the namespace would keep it, and its link, alive)
    local left; left=$(ip netns pids "$p-na" | tr '\n' ' ')
    [ -z "$left" ] || { echo "     (left in A: $left: $(ps -o args= -p ${left// /,} | tr '\n' ';'))"; kill -9 $left; }
    ip netns del "$p-na"
  else
    nsx na ip link set eth0 down
  fi
}
wait_takeover() { # $1 = takeovers before
  for _ in $(seq 100); do [ "$(takeovers)" -gt "$1" ] && return 0; sleep 0.05; done
  echo "FAIL no takeover"; fail=1
}
failback() { # $1 = deleted|down: A back, B's entries for A's address synced into it
  if [ "$1" = deleted ]; then
    nat_ns na 10.80.0.10 2>/dev/null
  else
    nsx na ip link set eth0 up
    # the link going down took A's routes with it (cove's reconciler repairs that drift)
    nsx na ip route replace default via 10.80.0.1 dev eth0 onlink
    nsx na conntrack -F 2>/dev/null   # stale since the takeover
  fi
  nsx na sysctl -qw net.netfilter.nf_conntrack_tcp_be_liberal="${PROTO_LIBERAL:-1}"
  local synced; synced=$(grep -c '^sync start' "$tmp/repl.log" || true)
  start_repl nb na 10.80.0.10
  for _ in $(seq 400); do   # B's dump inserted into A
    [ "$(grep -c '^sync start' "$tmp/repl.log" || true)" -gt "$synced" ] && break; sleep 0.05
  done
  # both ends operationally up (linkwatch gives a veth its queue when it reports the
  # carrier, up to a second later)
  for _ in $(seq 150); do
    nsx rt ip -br link show rna 2>/dev/null | grep -q ' UP ' && nsx na ip -br link show eth0 | grep -q ' UP ' && break
    sleep 0.02
  done
  nsx rt ip neigh flush dev rna   # a FAILED entry from the outage delays the first packets
  # healthy before it takes traffic back: 3 probes in a row answered
  local good=0
  for _ in $(seq 100); do
    if nsx rt ping -c1 -W0.2 -m $((VPC)) -I rna 10.80.0.10 >/dev/null 2>&1; then good=$((good + 1)); else good=0; fi
    [ "$good" -ge 3 ] && break
  done
  [ "$good" -ge 3 ] || { echo "FAIL A not healthy for fail-back"; fail=1; }
  t_fail=$(mono)
  nsx rt ip -batch - <<B
route replace 10.80.0.10/32 dev rna table $((VPC))
route replace default via 10.80.0.10 dev rna onlink table $((PRIV))
B
  nsx nb ip addr del 10.80.0.10/32 dev eth0
  stop_repl
  start_repl na nb -
  touch "$tmp/rearm"
}
analyze() { # $1 = label: connections and UDP gaps since t_fail
  sleep "${2:-2}"
  local t; t=$(mono); snap
  h analyze "$t_fail" "$t" "$1" "$tmp/summary" "$tmp/c1.json" "$tmp/c2.json" "$tmp/server.json" >/dev/null
  tail -1 "$tmp/summary"
}
rst_before=0; lost_before=0
judge() { # the last summary line: no connection lost in this event, same public IP, no RST, UDP through
  local r=$1 rst; rst=$(rsts)
  python3 - "$tmp/summary" "$conns" "$((rst - rst_before))" "$lost_before" <<'P' || { echo "FAIL $r"; fail=1; }
import json, sys
s = json.loads(open(sys.argv[1]).read().splitlines()[-1]); n, rst, before = map(int, sys.argv[2:])
lost = s["client_errors"] - before
ok = (lost == 0 and s["kept"] == n - before and s["server_kept"] == n - before
      and s["public_ips"] == ["203.0.113.10"] and rst == 0 and None not in s["udp_gaps_ms"])
print("%s %s: kept %d/%d (server side %d), lost %d, RSTs %d, public IPs %s, UDP gaps %s ms"
      % ("ok  " if ok else "FAIL", s["label"], s["kept"], n - before, s["server_kept"], lost,
         rst, ",".join(s["public_ips"]), s["udp_gaps_ms"]))
sys.exit(0 if ok else 1)
P
  if [ -n "${PROTO_DEBUG:-}" ]; then
    for f in c1 c2; do
      python3 -c 'import json,sys; [print(sys.argv[2], c["port"], c["err"], c["sent"], c["recv"]) for c in json.load(open(sys.argv[1])) if c["err"]]' "$tmp/$f.json" "$f"
    done | head -5 | while read -r c port err; do
      echo "     (debug lost: $c $port $err; in B: $(nsx nb conntrack -L -p tcp --orig-port-src "$port" 2>/dev/null | tr '\n' ';'))"
    done
  fi
  rst_before=$rst
  lost_before=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["client_errors"])' "$tmp/summary")
}

# The UDP senders' own jitter (python, 2 ms apart, on a shared machine): the gap
# with nothing happening.
t_fail=$(mono); analyze "baseline (no failure)" >/dev/null
python3 -c 'import json,sys; s=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print("     baseline, no failure: largest UDP gaps %s ms, kept %d" % (s["udp_gaps_ms"], s["kept"]))' "$tmp/summary"

: > "$tmp/detect"
# 1. Failover with replication: A's namespace deleted.
n0=$(takeovers); fail deleted; wait_takeover "$n0"
analyze "failover 0 (namespace deleted)" 3 >/dev/null; judge "failover"
tail -1 "$tmp/checker.log" | awk -v t="$t_fail" '{printf "     detected %.0f ms after the failure (%s), takeover commands %.0f ms\n", ($3 - t) * 1000, $2, ($4 - $3) * 1000}'
# 3. Fail-back.
failback deleted
analyze "fail-back 0" 3 >/dev/null; judge "fail-back"

# The same with A's link down, under the full load.
n0=$(takeovers); fail down; wait_takeover "$n0"
analyze "failover 0 (link down)" 3 >/dev/null; judge "failover, link down"
failback down
analyze "fail-back 0 (link down)" 3 >/dev/null; judge "fail-back, link down"
python3 -c 'import json,sys; s=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print("     connections kept / total after 2 failovers and 2 fail-backs: %d/%d" % (s["kept"], int(sys.argv[2])))' "$tmp/summary" "$conns"

# 4. Rounds for the gap figures, with fewer connections: on this shared 2-core
# machine 1,000 connections x 10 packets/s (and their echoes) delay the UDP sender
# itself by tens of ms (see the baselines).
gconns=${PROTO_GAP_CONNS:-100}
kill "$c1" "$c2"; wait "$c1" "$c2" 2>/dev/null || true
conns=$gconns; half=$((conns / 2))
ip netns exec "$p-c1" python3 "$tmp/h.py" client "$half" 21000 "$tmp/c1.json" & c1=$!; pids+=("$c1")
ip netns exec "$p-c2" python3 "$tmp/h.py" client "$((conns - half))" 21000 "$tmp/c2.json" & c2=$!; pids+=("$c2")
sleep 1
for _ in $(seq 60); do [ "$(echoing)" = "$conns" ] && break; sleep 0.5; done
expect "$conns new connections echoing through A" "$conns" "$(echoing)"
sleep 1
: > "$tmp/summary"; : > "$tmp/detect"; rst_before=$(rsts); lost_before=0
t_fail=$(mono); analyze "baseline (no failure)" >/dev/null
python3 -c 'import json,sys; s=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print("     baseline with %d connections, no failure: largest UDP gaps %s ms" % (s["clients"], s["udp_gaps_ms"]))' "$tmp/summary"
# Failure kinds alternate, each round fails back; all connections kept.
for r in $(seq 1 "$rounds"); do
  kind=deleted; [ $((r % 2)) = 0 ] && kind=down
  n0=$(takeovers); fail "$kind"; wait_takeover "$n0"
  analyze "failover $r ($kind)" >/dev/null
  tail -1 "$tmp/checker.log" | awk -v t="$t_fail" -v k="$kind" '{printf "{\"detect_ms\": %.1f, \"cmds_ms\": %.1f, \"kind\": \"%s\", \"how\": \"%s\"}\n", ($3 - t) * 1000, ($4 - $3) * 1000, k, $2}' >> "$tmp/detect"
  judge "failover $r"
  failback "$kind"
  analyze "fail-back $r" >/dev/null; judge "fail-back $r"
done
gaps() {
python3 - "$tmp/summary" "$tmp/detect" <<'P'
import json, sys
S = [json.loads(l) for l in open(sys.argv[1])]; D = [json.loads(l) for l in open(sys.argv[2])]
def pct(v, q):
    v = sorted(v); return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))]
for kind in ("deleted", "down", None):
    g = [max(s["udp_gaps_ms"]) for s in S if s["label"].startswith("failover ") and not s["label"].startswith("failover 0")
         and (kind is None or kind in s["label"])]
    d = [x["detect_ms"] for x in D if kind is None or x["kind"] == kind]
    c = [x["cmds_ms"] for x in D if kind is None or x["kind"] == kind]
    if g: print("     failover gap (UDP, last packet via A -> first via B), %-14s n=%2d p50 %6.1f ms p99 %6.1f ms max %6.1f; detection p50 %5.1f ms; takeover commands p50 %5.1f ms"
                % (kind or "all", len(g), pct(g, 50), pct(g, 99), max(g), pct(d, 50), pct(c, 50)))
g = [max(s["udp_gaps_ms"]) for s in S if s["label"].startswith("fail-back")]
print("     fail-back gap (planned): n=%d p50 %.1f ms p99 %.1f ms" % (len(g), pct(g, 50), pct(g, 99)))
P
}
gaps

# The same rounds with detection by probes only (3 x 100 ms echo through A's link,
# as if the link stayed up while A stopped forwarding).
if [ "${PROTO_PROBE_ROUNDS:-$((rounds / 2))}" -gt 0 ]; then
  kill "$checker"; wait "$checker" 2>/dev/null || true
  ip netns exec "$p-rt" python3 "$tmp/h.py" checker rna "$p-nb" 10.80.0.10 "$tmp/checker.log" 1 "$tmp/rearm" & checker=$!; pids+=("$checker")
  : > "$tmp/detect"; : > "$tmp/summary"
  for r in $(seq 1 "${PROTO_PROBE_ROUNDS:-$((rounds / 2))}"); do
    kind=deleted; [ $((r % 2)) = 0 ] && kind=down
    n0=$(takeovers); fail "$kind"; wait_takeover "$n0"
    analyze "failover $r ($kind, probes)" >/dev/null
    tail -1 "$tmp/checker.log" | awk -v t="$t_fail" -v k="$kind" '{printf "{\"detect_ms\": %.1f, \"cmds_ms\": %.1f, \"kind\": \"%s\", \"how\": \"%s\"}\n", ($3 - t) * 1000, ($4 - $3) * 1000, k, $2}' >> "$tmp/detect"
    judge "failover $r, probes only"
    failback "$kind"
    analyze "fail-back $r" >/dev/null; judge "fail-back $r"
  done
  [ -z "${PROTO_DEBUG:-}" ] || cat "$tmp/checker.log" "$tmp/detect" "$tmp/repl.log"
  echo "     with detection by probes only:"
  gaps
fi

# 2. Control: no replication (B's copies flushed, the replicator stopped). Two of
# A's entries (source port 21000, one remapped) go into B as `conntrack -L` lists
# them (the reply tuple already translated, no NAT attribute): the kernel accepts
# them but never translates with them, so their packets leave from 10.80.1.x and
# the router's guard drops them.
stop_repl
nsx nb conntrack -F 2>/dev/null
h wrong-form "$p-na" 21000 | while read -r args; do nsx nb conntrack $args 2>/dev/null; done
guard() { nsx rt nft list chain inet cove filter_forward | sed -n 's/.*igw_sources counter packets \([0-9]*\).*/\1/p'; }
g0=$(guard); r0=$(rsts)
n0=$(takeovers); t_fail=$(mono); ip netns del "$p-na"; wait_takeover "$n0"
analyze "control: no replication" 4 >/dev/null
g1=$(guard); r1=$(rsts)
python3 - "$tmp/summary" "$conns" "$((r1 - r0))" "$((g1 - g0))" <<'P' || fail=1
import json, sys
s = json.loads(open(sys.argv[1]).read().splitlines()[-1]); n, rst, g = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ok = s["kept"] < n
print("%s control, no replication (A deleted): kept %d/%d, client errors %d, server errors %d, RSTs %d, UDP gaps %s ms, streams %s"
      % ("ok  " if ok else "FAIL", s["kept"], n, s["client_errors"], s["server_errors"], rst, s["udp_gaps_ms"], s["udp_streams"]))
print("%s entries inserted with the translated reply tuple and no NAT attribute: %d packets left untranslated (dropped by the router's guard)"
      % ("ok  " if g > 0 else "FAIL", g))
sys.exit(0 if ok and g > 0 else 1)
P
[ -z "${PROTO_DEBUG:-}" ] || grep -E "^(error|sync|ENOBUFS)" "$tmp/repl.log" | head -20
[ "$fail" = 0 ] || exit 1
