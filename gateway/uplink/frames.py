"""SIA DC-09 message blocks: the bytes on the wire to the receiver, and its answers.

A block is `<LF> crc length "id" seq Rrcvr Lline #account [data] timestamp <CR>`:

- `crc`: CRC-16 (the ARC variant: polynomial 0x8005 reflected, start 0), four hex digits,
  over everything from the first `"` to the end of the timestamp; `length`: the length of
  that same text, four hex digits.
- `"id"`: `SIA-DCS` (SIA DC-03 event codes), `ADM-CID` (Ademco Contact ID) or `NULL` (a link
  test), with a `*` in front (`"*SIA-DCS"`) when the rest is encrypted.
- `seq`: the sequence number, 0001 to 9999 and round again; a retransmission keeps its
  number, which is how a receiver knows a message it has seen.
- `[data]`: `#account|` and the event (`Nri3/FA012` or `1110 03 012`), then extended data in
  brackets (`[Itext]`, `[Htime]`), then the timestamp `_HH:MM:SS,MM-DD-YYYY` (UTC). Encrypted,
  all of that after the `[` is hex ciphertext (gateway/uplink/cipher.py).

The receiver answers with a block of the same shape: `"ACK"` (or `"*ACK"` to an encrypted
message, itself encrypted, holding the receiver's timestamp), `"NAK"` (refused: an unknown
account, a wrong key, a timestamp outside its window; it carries the receiver's time),
`"DUH"` (not understood: a code it does not know) or `"RSP"` (acknowledged, with data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from gateway.uplink.cipher import decrypt, encrypt, padding

__all__ = [
    "MAX_ANSWER",
    "Answer",
    "AnswerError",
    "MessageType",
    "Reply",
    "Route",
    "block",
    "crc16",
    "parse_answer",
    "timestamp",
]

MAX_ANSWER = 1024
"""Bytes an answer may take; a receiver's answers are a few dozen."""

_TIME_FORMAT = "%H:%M:%S,%m-%d-%Y"
_BODY = re.compile(
    r'^"(?P<star>\*?)(?P<reply>ACK|NAK|DUH|RSP)"(?P<seq>[0-9]{4})'
    r"(?P<route>[^\[#]*)(?:#(?P<account>[0-9A-Fa-f]{3,16}))?[^\[]*\[(?P<rest>.*)$",
    re.DOTALL,
)
_STAMP = re.compile(
    r"\](?:\[[^\]]*\])*_(?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{2}-[0-9]{2}-[0-9]{4})$"
)


class MessageType(StrEnum):
    SIA_DCS = "SIA-DCS"
    ADM_CID = "ADM-CID"
    NULL = "NULL"


class Reply(StrEnum):
    ACK = "ACK"
    NAK = "NAK"
    DUH = "DUH"
    RSP = "RSP"


@dataclass(frozen=True, slots=True)
class Route:
    """Whose message it is and where it goes: the account and the receiver and line numbers
    (hex digits)."""

    account: str
    receiver: str = "0"
    line: str = "0"


class AnswerError(ValueError):
    """Bytes from the receiver that are not a DC-09 answer we can trust (`reason` says why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Answer:
    """The receiver's answer to one message."""

    reply: Reply
    sequence: int
    """The number of the message it answers (a NAK's is 0000: it answers whatever came)."""
    account: str | None
    encrypted: bool
    sent_at: datetime | None
    """The receiver's own time, when the answer carries it (an encrypted ACK, a NAK)."""


def crc16(data: bytes) -> int:
    """CRC-16/ARC, as DC-09 (and DC-07 before it) computes it."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def timestamp(moment: datetime) -> str:
    """DC-09's timestamp of `moment` (aware), in UTC: `_HH:MM:SS,MM-DD-YYYY`."""
    return "_" + moment.astimezone(UTC).strftime(_TIME_FORMAT)


def block(
    kind: MessageType,
    sequence: int,
    route: Route,
    data: str,
    *,
    sent_at: datetime,
    key: bytes | None = None,
) -> bytes:
    """One message block; `data` is everything between `[` and the timestamp (`]` for a
    link test), ASCII. Encrypted when a `key` is given."""
    head = f'"{"*" if key else ""}{kind}"{sequence:04d}R{route.receiver}L{route.line}'
    head += f"#{route.account}["
    rest = data + timestamp(sent_at)
    if key is not None:
        rest = "|" + rest
        rest = encrypt(key, padding(len(rest)) + rest)
    body = (head + rest).encode("ascii")
    return b"\n" + f"{crc16(body):04X}{len(body):04X}".encode("ascii") + body + b"\r"


def parse_answer(raw: bytes, key: bytes | None = None) -> Answer:
    """The receiver's answer in `raw` (one block, `<LF>` to `<CR>`).

    With a `key`, an ACK or RSP must be encrypted and decrypt to a receiver's timestamp;
    refusals (NAK, DUH) may come in the clear, as the standard has them.

    Raises:
        AnswerError: not a block, a wrong CRC or length, an unknown answer, or an
            acknowledgement that is not encrypted with `key`.
    """
    text = raw.strip(b"\n\r")
    if len(text) < 9:
        raise AnswerError(f"too short for an answer: {raw[:40]!r}")
    try:
        crc, length, body = int(text[:4], 16), int(text[4:8], 16), text[8:]
    except ValueError:
        raise AnswerError(f"no CRC and length at the start: {raw[:40]!r}") from None
    if crc16(body) != crc:
        raise AnswerError(f"CRC {crc:04X} does not match the answer's {crc16(body):04X}")
    if len(body) != length:
        raise AnswerError(f"length {length} does not match the answer's {len(body)}")
    match = _BODY.match(body.decode("ascii", errors="replace"))
    if match is None:
        raise AnswerError(f"not an ACK, NAK, DUH or RSP: {body[:40]!r}")
    reply, encrypted = Reply(match["reply"]), bool(match["star"])
    rest = match["rest"]
    if encrypted:
        if key is None:
            raise AnswerError("an encrypted answer, and no key to read it")
        plain = decrypt(key, rest)
        if plain is None or _STAMP.search(plain) is None:
            raise AnswerError(f"an encrypted {reply} that this key does not decrypt")
        rest = plain
    elif key is not None and reply in (Reply.ACK, Reply.RSP):
        raise AnswerError(f"{reply} in the clear to an encrypted message")
    return Answer(
        reply, int(match["seq"]), match["account"], encrypted, _sent_at(rest, reply, encrypted)
    )


def _sent_at(rest: str, reply: Reply, encrypted: bool) -> datetime | None:
    stamp = _STAMP.search(rest)
    if stamp is None:
        return None
    try:
        return datetime.strptime(stamp["time"], _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        if encrypted and reply in (Reply.ACK, Reply.RSP):
            raise AnswerError(f"an encrypted {reply} with no valid time") from None
        return None
