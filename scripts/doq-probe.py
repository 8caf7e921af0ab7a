#!/usr/bin/env python3
"""DNS over QUIC (RFC 9250) from aioquic, an independent QUIC stack, against a DoQ server on 127.0.0.1: the
integration tests run one scenario at a time and read the JSON report it prints.

    doq-probe.py PORT CA_FILE SERVER_NAME SCENARIO [COUNT]

Scenarios:
  queries N      N queries at once on one connection, one stream each (ID 0)
  nonzero-id     one query with ID 4660: the server must close with DOQ_PROTOCOL_ERROR (2)
  wrong-alpn     ALPN "dot" instead of "doq": the handshake must fail
  reset          a stream reset before its query is complete, then a query on a new stream
  resumption     two connections, the second resuming the first's TLS session with its ticket
  idle N         one query, then N seconds without any: reports whether and how the server closed
  hold N         as idle, but prints "answered" on standard error after the query and reports as soon as the
                 server closes (at most N seconds): for shutdown tests
  garbage N      N datagrams of noise (random bytes, and Initial-looking headers on random bytes), then a query
  abandon N      N connections whose handshake is begun and never finished, then a query
"""
import asyncio
import json
import os
import socket
import ssl
import struct
import sys

import dns.message
from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted

HOST = "127.0.0.1"
# The zone the names asked for are in (the integration tests' upstream serves test.example).
ZONE = os.environ.get("DOQ_PROBE_ZONE", "test.example")


class Client(QuicConnectionProtocol):
    """Records how the connection ended and whether its handshake resumed a session."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.terminated = None
        self.resumed = None

    def quic_event_received(self, event):
        if isinstance(event, ConnectionTerminated):
            self.terminated = {"error_code": event.error_code, "reason": event.reason_phrase}
        elif isinstance(event, HandshakeCompleted):
            self.resumed = event.session_resumed
        super().quic_event_received(event)


def configuration(ca_file, server_name, alpn="doq", ticket=None, store=None):
    config = QuicConfiguration(alpn_protocols=[alpn], is_client=True, idle_timeout=30.0)
    config.load_verify_locations(ca_file)
    config.server_name = server_name
    config.session_ticket = ticket
    return config


def framed_query(name, message_id=0):
    query = dns.message.make_query(name, "A")
    query.id = message_id
    wire = query.to_wire()
    return struct.pack(">H", len(wire)) + wire


async def ask(client, name, message_id=0):
    reader, writer = await client.create_stream()
    writer.write(framed_query(name, message_id))
    writer.write_eof()
    data = await asyncio.wait_for(reader.read(), 5)
    if len(data) < 2:
        return {"rcode": None, "bytes": len(data)}
    length = struct.unpack(">H", data[:2])[0]
    answer = dns.message.from_wire(data[2:2 + length])
    return {"rcode": dns.rcode.to_text(answer.rcode()), "id": answer.id, "answers": len(answer.answer),
            "framing_ok": length == len(data) - 2}


async def one_query(port, ca_file, server_name):
    async with connect(HOST, port, configuration=configuration(ca_file, server_name), create_protocol=Client) as client:
        return await ask(client, "h000001." + ZONE)


async def queries(port, ca_file, server_name, count):
    async with connect(HOST, port, configuration=configuration(ca_file, server_name), create_protocol=Client) as client:
        results = await asyncio.gather(*(ask(client, f"h{i:06d}." + ZONE) for i in range(count)),
                                       return_exceptions=True)
    rcodes = {}
    for result in results:
        key = result["rcode"] if isinstance(result, dict) else type(result).__name__
        rcodes[key] = rcodes.get(key, 0) + 1
    return {"rcodes": rcodes, "ids": sorted({r["id"] for r in results if isinstance(r, dict) and "id" in r}),
            "framing_ok": all(r.get("framing_ok") for r in results if isinstance(r, dict))}


async def nonzero_id(port, ca_file, server_name):
    async with connect(HOST, port, configuration=configuration(ca_file, server_name), create_protocol=Client) as client:
        try:
            answer = await ask(client, "h000001." + ZONE, message_id=4660)
        except Exception as error:  # the stream or connection ends without an answer
            answer = {"error": type(error).__name__}
        await asyncio.sleep(0.5)
        return {"answer": answer, "terminated": client.terminated}


async def wrong_alpn(port, ca_file, server_name):
    try:
        async with connect(HOST, port, configuration=configuration(ca_file, server_name, alpn="dot"),
                           create_protocol=Client, wait_connected=True) as client:
            return {"connected": True, "terminated": client.terminated}
    except ConnectionError as error:
        return {"connected": False, "error": str(error)}


async def reset(port, ca_file, server_name):
    async with connect(HOST, port, configuration=configuration(ca_file, server_name), create_protocol=Client) as client:
        stream_id = client._quic.get_next_available_stream_id()
        client._quic.send_stream_data(stream_id, framed_query("h000002." + ZONE)[:7], end_stream=False)
        client.transmit()
        await asyncio.sleep(0.2)
        client._quic.reset_stream(stream_id, 3)
        client.transmit()
        await asyncio.sleep(0.2)
        after = await ask(client, "h000003." + ZONE)
        return {"after": after, "terminated": client.terminated}


async def resumption(port, ca_file, server_name):
    tickets = []
    first = configuration(ca_file, server_name)
    async with connect(HOST, port, configuration=first, create_protocol=Client,
                       session_ticket_handler=tickets.append) as client:
        one = await ask(client, "h000004." + ZONE)
        await asyncio.sleep(0.3)
    if not tickets:
        return {"first": one, "ticket": False}
    second = configuration(ca_file, server_name, ticket=tickets[-1])
    async with connect(HOST, port, configuration=second, create_protocol=Client) as client:
        two = await ask(client, "h000005." + ZONE)
        return {"first": one, "ticket": True, "second": two, "resumed": client.resumed}


async def idle(port, ca_file, server_name, seconds):
    async with connect(HOST, port, configuration=configuration(ca_file, server_name), create_protocol=Client) as client:
        answer = await ask(client, "h000006." + ZONE)
        await asyncio.sleep(seconds)
        return {"answer": answer, "terminated": client.terminated}


async def hold(port, ca_file, server_name, seconds):
    async with connect(HOST, port, configuration=configuration(ca_file, server_name), create_protocol=Client) as client:
        answer = await ask(client, "h000007." + ZONE)
        print("answered", file=sys.stderr, flush=True)
        loop = asyncio.get_running_loop()
        started = loop.time()
        while client.terminated is None and loop.time() - started < seconds:
            await asyncio.sleep(0.05)
        return {"answer": answer, "terminated": client.terminated, "waited": round(loop.time() - started, 2)}


async def garbage(port, ca_file, server_name, count):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sent = 0
    for i in range(count):
        size = 1200 if i % 2 else 1 + i % 1400
        noise = bytearray(os.urandom(size))
        if i % 4 == 1:
            # A long header, version 1, Initial type, with random connection IDs and a random rest.
            noise[0] = 0xC0 | (noise[0] & 0x0F)
            noise[1:5] = b"\x00\x00\x00\x01"
            noise[5] = 8
            noise[14] = 8
        try:
            sock.sendto(bytes(noise), (HOST, port))
            sent += 1
        except BlockingIOError:
            await asyncio.sleep(0.001)
        if i % 256 == 0:
            await asyncio.sleep(0.001)
    sock.close()
    await asyncio.sleep(0.5)
    return {"sent": sent, "after": await one_query(port, ca_file, server_name)}


async def abandon(port, ca_file, server_name, count):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(count):
        connection = QuicConnection(configuration=configuration(ca_file, server_name))
        connection.connect((HOST, port), now=asyncio.get_running_loop().time())
        for data, address in connection.datagrams_to_send(now=asyncio.get_running_loop().time()):
            sock.sendto(data, address)
        if i % 100 == 0:
            await asyncio.sleep(0.01)
    sock.close()
    await asyncio.sleep(0.5)
    return {"abandoned": count, "after": await one_query(port, ca_file, server_name)}


def main():
    port, ca_file, server_name, scenario = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    runs = {
        "queries": lambda: queries(port, ca_file, server_name, count),
        "nonzero-id": lambda: nonzero_id(port, ca_file, server_name),
        "wrong-alpn": lambda: wrong_alpn(port, ca_file, server_name),
        "reset": lambda: reset(port, ca_file, server_name),
        "resumption": lambda: resumption(port, ca_file, server_name),
        "idle": lambda: idle(port, ca_file, server_name, count),
        "hold": lambda: hold(port, ca_file, server_name, count),
        "garbage": lambda: garbage(port, ca_file, server_name, count),
        "abandon": lambda: abandon(port, ca_file, server_name, count),
    }
    report = asyncio.run(asyncio.wait_for(runs[scenario](), 60))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
