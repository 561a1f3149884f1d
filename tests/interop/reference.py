"""A second, independent implementation of the cascade protocol, written from PROTOCOL.md alone.

It shares no code with Cascade (no C++, no proto/): the interop test runs Cascade's programs
against it, so that a misreading of the protocol that Cascade's encoder and decoder share would
show. It is small and strict: it accepts only what the protocol allows and says what was wrong.
Every socket operation has a timeout.
"""

import hashlib
import ipaddress
import random
import socket
import struct
import threading
import time

MAGIC = b"CASCADE1"
TRACKER_MAGIC = b"CASC"
LIST, SUBSCRIBE = 1, 2
TIMEOUT = 10.0


class ProtocolError(Exception):
    pass


# ---- Section 1: cascade files ----

def make_cascade(data, block_size):
    """The cascade file's bytes for `data` (bytes), split into `block_size` blocks."""
    blocks = [data[i:i + block_size] for i in range(0, len(data), block_size)]
    head = MAGIC + bytes(8) + struct.pack(">QQ", len(data), block_size) + hashlib.sha256(data).digest()
    return head + b"".join(hashlib.sha256(b).digest() for b in blocks)


class Cascade:
    def __init__(self, raw):
        if len(raw) < 64:
            raise ProtocolError("cascade file shorter than its 64-byte header")
        if raw[:8] != MAGIC:
            raise ProtocolError("cascade file magic is not CASCADE1")
        self.size, self.block_size = struct.unpack(">QQ", raw[16:32])
        if self.block_size == 0:
            raise ProtocolError("block size 0")
        self.count = -(-self.size // self.block_size)
        if len(raw) < 64 + 32 * self.count:
            raise ProtocolError("fewer block hashes than blocks")
        self.whole = raw[32:64]
        self.hashes = [raw[64 + 32 * i:96 + 32 * i] for i in range(self.count)]
        self.cascade_hash = hashlib.sha256(raw).digest()

    def block_length(self, i):
        return min(self.block_size, self.size - i * self.block_size)


# ---- Section 2: tracker ----

def tracker_request(command, cascade_hash, ip, port):
    return (TRACKER_MAGIC + struct.pack(">III", 1, command, 38) + cascade_hash
            + ipaddress.IPv4Address(ip).packed + struct.pack(">H", port))


def recv_exact(sock, n):
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ProtocolError(f"connection closed after {len(out)} of {n} bytes")
        out += chunk
    return bytes(out)


def recv_to_eof(sock, limit):
    out = bytearray()
    while len(out) <= limit:
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(out)
        out += chunk
    raise ProtocolError(f"more than {limit} bytes before the end of the stream")


def parse_tracker_response(raw):
    """(status, peers or message) from a whole response, up to the server's close."""
    if len(raw) < 5:
        raise ProtocolError("tracker response shorter than 5 bytes")
    status, length = raw[0], struct.unpack(">I", raw[1:5])[0]
    if len(raw) != 5 + length:
        raise ProtocolError(f"tracker response length {length} but {len(raw) - 5} bytes followed")
    payload = raw[5:]
    if status != 0:
        return status, payload.decode("utf-8")
    if length % 12:
        raise ProtocolError("peer list length is not a multiple of 12")
    peers = []
    for off in range(0, length, 12):
        ip, port, seen, good, reserved = struct.unpack(">4sHIBB", payload[off:off + 12])
        if good not in (0, 1) or reserved != 0:
            raise ProtocolError(f"good flag {good}, reserved byte {reserved}")
        peers.append((str(ipaddress.IPv4Address(ip)), port, seen, good == 1))
    return status, peers


def ask_tracker(tracker, command, cascade_hash, ip, port, raw_request=None):
    with socket.create_connection(tracker, timeout=TIMEOUT) as s:
        s.sendall(raw_request if raw_request is not None else tracker_request(command, cascade_hash, ip, port))
        return parse_tracker_response(recv_to_eof(s, 5 + 65536 + 20 * 12))


class Server:
    """Listens on 127.0.0.1 (any free port) and serves each connection on a thread of its own:
    _serve(conn, from_ip)."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.server.close()

    def _accept(self):
        while not self.stopping:
            try:
                conn, addr = self.server.accept()
            except socket.timeout:
                continue
            threading.Thread(target=self._serve, args=(conn, addr[0]), daemon=True).start()


class Tracker(Server):
    """A tracker as section 2 describes it: open (any hash), no good IPs, peers kept 1800 s.
    With `close_after_reply` false it leaves the closing to the client, as a careless tracker
    might: a client must not need the end of the stream to know that the reply is whole."""

    def __init__(self, close_after_reply=True):
        self.close_after_reply = close_after_reply
        self.swarms = {}
        self.requests = []  # (command, hash, ip, port, from_ip) of every well-formed request
        self.lock = threading.Lock()
        super().__init__()

    def _serve(self, conn, from_ip):
        with conn:
            conn.settimeout(TIMEOUT)
            try:
                reply = self._answer(recv_exact(conn, 54), from_ip)
            except (ProtocolError, OSError):
                return
            conn.sendall(reply)
            if self.close_after_reply:
                conn.shutdown(socket.SHUT_WR)
            else:
                try:
                    recv_to_eof(conn, 0)  # until the client closes
                except (ProtocolError, OSError):
                    pass

    def _answer(self, req, from_ip):
        def error(message):
            body = message.encode()
            return bytes([1]) + struct.pack(">I", len(body)) + body
        magic, version, command, length = req[:4], *struct.unpack(">III", req[4:16])
        if magic != TRACKER_MAGIC or version != 1 or command not in (LIST, SUBSCRIBE) or length != 38:
            return error("malformed request header")
        h, ip, port = req[16:48], str(ipaddress.IPv4Address(req[48:52])), struct.unpack(">H", req[52:54])[0]
        now = int(time.time())
        with self.lock:
            self.requests.append((command, h, ip, port, from_ip))
            swarm = self.swarms.setdefault(h, {})
            if command == SUBSCRIBE:
                swarm[(ip, port)] = now
            listed = [(p, seen) for p, seen in swarm.items() if p != (ip, port) and now - seen < 1800]
        random.shuffle(listed)
        body = b"".join(ipaddress.IPv4Address(p[0]).packed + struct.pack(">HIBB", p[1], seen, 0, 0)
                        for p, seen in listed[:20])
        return bytes([0]) + struct.pack(">I", len(body)) + body


# ---- Section 3: peers ----

def block_request(index, cascade_hash):
    return MAGIC + bytes(16) + struct.pack(">Q", index) + cascade_hash


def read_block_response(sock, limit):
    """(status, payload) of one response; payloads over `limit` bytes are refused."""
    status, length = struct.unpack(">BQ", recv_exact(sock, 9))
    if length > limit:
        raise ProtocolError(f"response length {length} over {limit}")
    return status, recv_exact(sock, length)


class Seed(Server):
    """Serves the blocks of one complete data file (section 3): pipelined requests answered in
    order; status 1 and 3 and 4 close the connection, status 2 does not. `held` limits which
    blocks it claims to hold. The other arguments give it the habits real peers have:
    - blocks_per_connection: closes after that many answers, whatever else was asked (a stingy
      peer; with requests still unread, its close reaches the other side as a reset);
    - busy: blocks answered with status 2 the first time anyone asks for them, served after (a
      peer that holds them but will not send them yet);
    - rate: bytes per second, over all its connections (a slow uplink);
    - delay: seconds it waits before each answer (a slow disk, a busy host)."""

    def __init__(self, cascade, data, held=None, blocks_per_connection=None, busy=(), rate=None, delay=0.0):
        self.cascade, self.data = cascade, data
        self.blocks_per_connection = blocks_per_connection
        self.held = set(range(cascade.count)) if held is None else set(held)
        self.busy = set(busy)
        self.delay = delay
        self.pacer = Pacer(rate) if rate else None
        self.served = []  # block indexes answered with status 0
        self.refused = []  # block indexes answered with status 2
        self.lock = threading.Lock()
        super().__init__()

    def _send(self, conn, data):
        if self.pacer is None:
            return conn.sendall(data)
        for off in range(0, len(data), 8192):
            self.pacer.wait(len(data[off:off + 8192]))
            conn.sendall(data[off:off + 8192])

    def _serve(self, conn, from_ip):
        def reply(status, payload):
            self._send(conn, struct.pack(">BQ", status, len(payload)) + payload)
        with conn:
            conn.settimeout(TIMEOUT)
            answered = 0
            try:
                while True:
                    first = conn.recv(1)
                    if not first:
                        return
                    req = first + recv_exact(conn, 63)
                    index, h = struct.unpack(">Q", req[24:32])[0], req[32:64]
                    if self.delay:
                        time.sleep(self.delay)
                    if req[:8] != MAGIC or req[8:24] != bytes(16):
                        return reply(4, b"malformed request")
                    if h != self.cascade.cascade_hash:
                        return reply(1, b"this peer does not serve that cascade hash")
                    if index >= self.cascade.count:
                        return reply(3, b"block index out of range")
                    with self.lock:
                        busy = index in self.busy
                        self.busy.discard(index)
                    if index not in self.held or busy:
                        self.refused.append(index)
                        reply(2, f"{index} is not currently held by this peer".encode())
                        continue
                    off = index * self.cascade.block_size
                    reply(0, self.data[off:off + self.cascade.block_length(index)])
                    self.served.append(index)
                    answered += 1
                    if answered == self.blocks_per_connection:
                        return
            except (ProtocolError, OSError):
                return


class Pacer:
    """A token bucket shared by threads: wait(n) returns when n more bytes fit the rate."""

    def __init__(self, rate):
        self.rate, self.lock, self.next = float(rate), threading.Lock(), time.monotonic()

    def wait(self, n):
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next)
            self.next = start + n / self.rate
        if start > now:
            time.sleep(start - now)


def fetch_block(cascade, peer, index):
    """One block over a connection of its own (the simple leecher's way): (status, payload)."""
    with socket.create_connection(peer, timeout=TIMEOUT) as s:
        s.sendall(block_request(index, cascade.cascade_hash))
        return read_block_response(s, cascade.block_size)


def fetch_per_block(cascade, peer, tries=1000):
    """Every block of `cascade` from one peer, one connection per block, in order; a "don't
    have" answer is asked again at once (up to `tries` times in all). Returns the data."""
    blocks = []
    for i in range(cascade.count):
        for _ in range(tries):
            status, payload = fetch_block(cascade, peer, i)
            if status != 2:
                break
            tries -= 1
        if status != 0:
            raise ProtocolError(f"block {i}: status {status}: {payload.decode(errors='replace')}")
        if len(payload) != cascade.block_length(i) or hashlib.sha256(payload).digest() != cascade.hashes[i]:
            raise ProtocolError(f"block {i}: wrong length or hash")
        blocks.append(payload)
    data = b"".join(blocks)
    if hashlib.sha256(data).digest() != cascade.whole:
        raise ProtocolError("the whole file's hash does not match")
    return data


def fetch(cascade, peer, pipeline=8):
    """Every block of `cascade` from one peer over one connection, `pipeline` requests in
    flight, each checked against its hash. Returns the data."""
    blocks = [None] * cascade.count
    with socket.create_connection(peer, timeout=TIMEOUT) as s:
        sent = 0
        for i in range(cascade.count):
            while sent < cascade.count and sent < i + pipeline:
                s.sendall(block_request(sent, cascade.cascade_hash))
                sent += 1
            status, payload = read_block_response(s, cascade.block_size)
            if status != 0:
                raise ProtocolError(f"block {i}: status {status}: {payload.decode(errors='replace')}")
            if len(payload) != cascade.block_length(i) or hashlib.sha256(payload).digest() != cascade.hashes[i]:
                raise ProtocolError(f"block {i}: wrong length or hash")
            blocks[i] = payload
    data = b"".join(blocks)
    if hashlib.sha256(data).digest() != cascade.whole:
        raise ProtocolError("the whole file's hash does not match")
    return data


def main(argv):
    """The reference as a program, for tests that run it inside a network namespace:
      reference.py fetch-per-block FILE.cascade HOST:PORT OUTPUT
      reference.py list HOST:PORT HASH [--as IP:PORT] [--from IP]
      reference.py subscribe HOST:PORT HASH IP:PORT [--from IP]
    list and subscribe print the answer as JSON: {"status", "peers": [[ip, port, seen, good]]}
    or {"status", "message"}."""
    import json
    import sys

    def endpoint(text):
        host, port = text.rsplit(":", 1)
        return host, int(port)
    if len(argv) == 4 and argv[0] == "fetch-per-block":
        with open(argv[1], "rb") as f:
            c = Cascade(f.read())
        data = fetch_per_block(c, endpoint(argv[2]))
        with open(argv[3], "wb") as f:
            f.write(data)
        return 0
    if len(argv) >= 3 and argv[0] in ("list", "subscribe"):
        rest = argv[3:]
        source = None
        if "--from" in rest:
            i = rest.index("--from")
            source, rest = rest[i + 1], rest[:i] + rest[i + 2:]
        if argv[0] == "subscribe":
            ip, port = endpoint(rest[0])
        elif "--as" in rest:
            ip, port = endpoint(rest[rest.index("--as") + 1])
        else:
            ip, port = "0.0.0.0", 0
        command = SUBSCRIBE if argv[0] == "subscribe" else LIST
        with socket.create_connection(endpoint(argv[1]), timeout=TIMEOUT,
                                      source_address=(source, 0) if source else None) as s:
            s.sendall(tracker_request(command, bytes.fromhex(argv[2]), ip, port))
            status, body = parse_tracker_response(recv_to_eof(s, 5 + 65536 + 20 * 12))
        print(json.dumps({"status": status, "peers": body} if status == 0 else {"status": status, "message": body}))
        return 0
    print(main.__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv[1:]))
