#!/usr/bin/env python3
"""Writes the event_envelope seeds: AMQP basic properties and a protobuf Envelope, both
assembled by hand here (no protobuf library), in the target's input format: two bytes
(big-endian) giving the length of the properties, the properties, then the body."""

import pathlib
import struct


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, wire, payload):
    key = varint(number << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


def text(number, value):
    return field(number, 2, value.encode())


def timestamp(seconds, nanos=0):
    return field(1, 0, seconds) + (field(2, 0, nanos) if nanos else b"")


def envelope(event_type, payload_field, payload, event_id="0190f5c2-7b1e-7cc3-9a51-2b1f0c4d5e6f",
             request_id="0190f5c2-7b1e-7cc3-9a51-000000000042", seconds=1_780_000_000, nanos=0,
             sequence=0):
    body = text(1, event_id) + text(2, event_type) + field(3, 0, 1)
    body += field(4, 2, timestamp(seconds, nanos)) + text(5, request_id) + text(6, "intake")
    if sequence:
        body += field(7, 0, sequence)
    return body + field(payload_field, 2, payload)


def shortstr(value):
    return bytes([len(value)]) + value.encode()


def longstr(value):
    return struct.pack(">I", len(value)) + value.encode()


def properties(headers, message_id="0190f5c2-7b1e-7cc3-9a51-2b1f0c4d5e6f"):
    table = b""
    for name, kind, value in headers:
        table += shortstr(name) + kind.encode()
        table += longstr(value) if kind == "S" else struct.pack(">q", value)
    flags = (1 << 15) | (1 << 13) | (1 << 7)  # content type, headers, message id
    return (struct.pack(">H", flags) + shortstr("application/x-protobuf")
            + struct.pack(">I", len(table)) + table + shortstr(message_id))


def framed(props, body):
    return struct.pack(">H", len(props)) + props + body


summary = (text(1, "0190f5c2-7b1e-7cc3-9a51-000000000042") + text(2, "CP-2026-00000042")
           + field(3, 0, 3) + text(4, "RSSMRA85T10A562S") + text(5, "F205") + text(6, "pensioni")
           + text(7, "Ricostituzione") + field(9, 2, timestamp(1_780_000_000)) + text(12, "Testo"))
submitted = envelope("request.submitted", 10, field(1, 2, summary))
trace = [("traceparent", "S", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
         ("tracestate", "S", "combipat=1")]
retried = trace + [("x-combipat-attempt", "l", 3), ("x-combipat-first-failure-ms", "l", 1_780_000_000_000),
                   ("x-combipat-error", "S", "the database is unavailable")]

out = pathlib.Path(__file__).parent / "event_envelope"
out.mkdir(exist_ok=True)
seeds = {
    "submitted": framed(properties(trace), submitted),
    "submitted_retried": framed(properties(retried), submitted),
    "closed_no_headers": b"\x00\x00" + envelope("request.closed", 14, b"", sequence=7),
    "no_time": b"\x00\x00" + submitted.replace(field(4, 2, timestamp(1_780_000_000)), b""),
    "leap_nanos": b"\x00\x00" + envelope("request.closed", 14, b"", seconds=1_780_000_019, nanos=1_500_000_000),
    "type_mismatch": b"\x00\x00" + envelope("request.submitted", 14, b""),
    "bad_event_id": b"\x00\x00" + envelope("request.closed", 14, b"", event_id="not-a-uuid"),
    "truncated": b"\x00\x00" + submitted[:-5],
}
for name, data in seeds.items():
    (out / name).write_bytes(data)
