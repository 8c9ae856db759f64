"""What an operator sends on ``/spatial/instruction``: plain text, or JSON with an id.

``{"id": "pick-3", "text": "the red cup left of the bowl"}`` lets a caller match its
answer on ``/spatial/result`` among other callers' answers; plain text gets an id from the
node. Raw bytes are decoded strictly so non-UTF-8 input is reported, not silently mangled.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class Request:
    request_id: str
    text: str
    error: str | None = None  # set when the message itself was unusable


def decode_utf8(data: bytes) -> str:
    """Strict UTF-8; the error names the first bad byte and its offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start:exc.start + 1].hex()
        raise ValueError(f"instruction is not valid UTF-8 (byte 0x{bad} at offset "
                         f"{exc.start})") from exc


def string_from_cdr(raw: bytes) -> bytes:
    """The payload bytes of a serialized std_msgs/String (CDR: 4-byte encapsulation header,
    uint32 length including the NUL terminator, then the bytes)."""
    if len(raw) < 8:
        raise ValueError(f"malformed std_msgs/String: {len(raw)} bytes")
    little = raw[1] in (0x01, 0x03, 0x07, 0x09, 0x0B)  # *_LE encapsulation ids
    (n,) = struct.unpack("<I" if little else ">I", raw[4:8])
    if n > len(raw) - 8:
        raise ValueError(f"malformed std_msgs/String: length {n} > {len(raw) - 8} bytes")
    payload = raw[8:8 + n]
    return payload[:-1] if payload.endswith(b"\x00") else payload


def parse_request(text: str, fallback_id: str) -> Request:
    """Plain text, or a JSON object with ``text`` (required) and ``id`` (optional)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            return Request(fallback_id, text)  # text that merely starts with a brace
        if not isinstance(data, dict):
            return Request(fallback_id, text)
        rid = data.get("id")
        rid = fallback_id if rid is None or rid == "" else str(rid)[:128]
        body = data.get("text", data.get("instruction"))
        if not isinstance(body, str):
            return Request(rid, "", "JSON instruction needs a string 'text' field")
        return Request(rid, body)
    return Request(fallback_id, text)
