#!/usr/bin/env python3
"""A misbehaving HTTP/2 client for dnsgate's DoH listener tests, written on raw frames (no HTTP/2 library, so that it
can break the rules a library would enforce). It opens one TLS connection with ALPN h2 to 127.0.0.1:PORT, does one
ATTACK, reads until the server closes or goes quiet, and prints one JSON object: the frames it got back by type, the
error codes of RST_STREAM and GOAWAY frames, the HTTP statuses, and whether the server closed the connection.

  http2-abuse.py PORT CA_FILE TLS_NAME ATTACK [COUNT]

ATTACK is one of:
  streams       COUNT GET requests at once (more than the server's advertised stream limit), then one more request
                after the answers
  ping-flood    COUNT PING frames without reading the acknowledgements
  settings-flood COUNT empty SETTINGS frames without reading the acknowledgements
  rapid-reset   COUNT requests, each reset by the client right after it was opened (CVE-2023-44487)
"""
import base64
import json
import socket
import ssl
import struct
import sys
import time

DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY = 0x0, 0x1, 0x3, 0x4, 0x6, 0x7
FRAME_NAMES = {0: "DATA", 1: "HEADERS", 3: "RST_STREAM", 4: "SETTINGS", 6: "PING", 7: "GOAWAY", 8: "WINDOW_UPDATE"}


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def hpack_string(text):
    data = text.encode()
    assert len(data) < 127
    return bytes([len(data)]) + data


def request_headers(stream, authority):
    # ID 0, RD, one question: a.test. A, base64url without padding (RFC 8484 §4.1).
    query = struct.pack(">HHHHHH", 0, 0x0100, 1, 0, 0, 0) + b"\x01a\x04test\x00" + struct.pack(">HH", 1, 1)
    path = "/dns-query?dns=" + base64.urlsafe_b64encode(query).decode().rstrip("=")
    # :method GET (static 2), :scheme https (static 7), then literals without indexing for :path (4) and
    # :authority (1).
    block = b"\x82\x87" + b"\x04" + hpack_string(path) + b"\x01" + hpack_string(authority)
    return frame(HEADERS, 0x5, stream, block)  # END_STREAM | END_HEADERS


class Reader:
    def __init__(self, connection):
        self.connection = connection
        self.buffer = b""
        self.closed = False
        self.frames = {}
        self.rst_codes = {}
        self.goaway_codes = []
        self.statuses = {}

    def pump(self, seconds):
        """Reads frames for up to `seconds`, or until the server closes."""
        deadline = time.monotonic() + seconds
        while not self.closed and time.monotonic() < deadline:
            self.connection.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = self.connection.recv(65536)
            except (socket.timeout, TimeoutError):
                return
            except (ConnectionError, ssl.SSLError, OSError):
                self.closed = True
                return
            if not data:
                self.closed = True
                return
            self.buffer += data
            self.parse()

    def parse(self):
        while len(self.buffer) >= 9:
            length = int.from_bytes(self.buffer[:3], "big")
            if len(self.buffer) < 9 + length:
                return
            kind, flags = self.buffer[3], self.buffer[4]
            payload = self.buffer[9:9 + length]
            self.buffer = self.buffer[9 + length:]
            name = FRAME_NAMES.get(kind, str(kind))
            self.frames[name] = self.frames.get(name, 0) + 1
            if kind == RST_STREAM:
                code = str(int.from_bytes(payload[:4], "big"))
                self.rst_codes[code] = self.rst_codes.get(code, 0) + 1
            elif kind == GOAWAY:
                self.goaway_codes.append(int.from_bytes(payload[4:8], "big"))
            elif kind == HEADERS and payload[:1] in (b"\x88", b"\x8d", b"\x8c"):
                # The server's first response status comes from the static table: 200 (8), 404 (13), 400 (12).
                status = {b"\x88": "200", b"\x8d": "404", b"\x8c": "400"}[payload[:1]]
                self.statuses[status] = self.statuses.get(status, 0) + 1
            elif kind == HEADERS:
                self.statuses["other"] = self.statuses.get("other", 0) + 1
            elif kind == SETTINGS and not flags & 0x1:
                self.connection.sendall(frame(SETTINGS, 0x1, 0))

    def report(self, **extra):
        return {"frames": self.frames, "rst_codes": self.rst_codes, "goaway_codes": self.goaway_codes,
                "statuses": self.statuses, "closed": self.closed, **extra}


def main():
    port, ca_file, name, attack = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 300
    context = ssl.create_default_context(cafile=ca_file)
    context.set_alpn_protocols(["h2"])
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    connection = context.wrap_socket(raw, server_hostname=name)
    assert connection.selected_alpn_protocol() == "h2", "no h2"
    connection.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(SETTINGS, 0, 0))
    reader = Reader(connection)
    reader.pump(0.5)  # the server's SETTINGS (acknowledged by the reader) and its ACK of ours
    authority = f"{name}:{port}"
    sent_at = time.monotonic()
    extra = {}
    try:
        if attack == "streams":
            connection.sendall(b"".join(request_headers(1 + 2 * i, authority) for i in range(count)))
            reader.pump(3)
            before = dict(reader.statuses)
            connection.sendall(request_headers(1 + 2 * count, authority))
            reader.pump(2)
            extra["answered_after"] = reader.statuses.get("200", 0) - before.get("200", 0)
        elif attack == "ping-flood":
            connection.sendall(frame(PING, 0, 0, b"12345678") * count)
            reader.pump(5)
        elif attack == "settings-flood":
            connection.sendall(frame(SETTINGS, 0, 0) * count)
            reader.pump(5)
        elif attack == "rapid-reset":
            connection.sendall(b"".join(request_headers(1 + 2 * i, authority)
                                        + frame(RST_STREAM, 0, 1 + 2 * i, struct.pack(">I", 8))
                                        for i in range(count)))
            reader.pump(5)
        else:
            raise SystemExit(f"unknown attack {attack}")
    except (ConnectionError, ssl.SSLError, OSError):
        # The server may close while the attack is still being written.
        reader.closed = True
    extra["seconds"] = round(time.monotonic() - sent_at, 2)
    print(json.dumps(reader.report(**extra)))


if __name__ == "__main__":
    main()
