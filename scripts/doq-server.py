#!/usr/bin/env python3
"""A DNS-over-QUIC server (RFC 9250) on aioquic, an independent QUIC stack, in front of a plain DNS server: the
integration tests point dnsgate's quic:// upstream at it. Every query is forwarded over UDP to UPSTREAM_PORT on
127.0.0.1 with the client's stream, and the answer goes back with ID 0. Counts connections, handshakes that resumed
a session, and queries, in STATUS_FILE (JSON), rewritten after every event.

    doq-server.py PORT CERT_FILE KEY_FILE UPSTREAM_PORT STATUS_FILE
"""
import asyncio
import json
import socket
import struct
import sys

from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import HandshakeCompleted, StreamDataReceived, ConnectionTerminated
from aioquic.tls import SessionTicket

HOST = "127.0.0.1"
status = {"connections": 0, "resumed": 0, "queries": 0, "nonzero_ids": 0, "open": 0}
tickets = {}


def write_status():
    with open(sys.argv[5] + ".tmp", "w") as out:
        json.dump(status, out)
    import os
    os.replace(sys.argv[5] + ".tmp", sys.argv[5])


async def forward(query):
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, (HOST, int(sys.argv[4])))
        await loop.sock_sendall(sock, query)
        return await asyncio.wait_for(loop.sock_recv(sock, 65535), 3)
    finally:
        sock.close()


class DoQServer(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.buffers = {}
        status["connections"] += 1
        status["open"] += 1
        write_status()

    def quic_event_received(self, event):
        if isinstance(event, HandshakeCompleted):
            if event.session_resumed:
                status["resumed"] += 1
                write_status()
        elif isinstance(event, StreamDataReceived):
            data = self.buffers.get(event.stream_id, b"") + event.data
            self.buffers[event.stream_id] = data
            if event.end_stream:
                del self.buffers[event.stream_id]
                asyncio.ensure_future(self.answer(event.stream_id, data))
        elif isinstance(event, ConnectionTerminated):
            status["open"] -= 1
            write_status()

    async def answer(self, stream_id, data):
        length = struct.unpack(">H", data[:2])[0]
        query = data[2:2 + length]
        status["queries"] += 1
        if query[:2] != b"\0\0":
            status["nonzero_ids"] += 1
        write_status()
        try:
            answer = await forward(query)
        except asyncio.TimeoutError:
            self._quic.reset_stream(stream_id, 3)
            self.transmit()
            return
        answer = b"\0\0" + answer[2:]
        self._quic.send_stream_data(stream_id, struct.pack(">H", len(answer)) + answer, end_stream=True)
        self.transmit()


async def main():
    config = QuicConfiguration(alpn_protocols=["doq"], is_client=False, idle_timeout=60.0)
    config.load_cert_chain(sys.argv[2], sys.argv[3])
    write_status()
    await serve(HOST, int(sys.argv[1]), configuration=config, create_protocol=DoQServer,
                session_ticket_fetcher=lambda ticket: tickets.pop(ticket, None), session_ticket_handler=lambda t: tickets.__setitem__(t.ticket, t))
    print("serving", flush=True)
    await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
