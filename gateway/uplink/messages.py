"""What one alarm event tells the centre, and how that is written in SIA DC-03 or Contact ID.

A `Message` is made once, when the uplink takes the event from the alarm store, and kept in
the uplink's queue until the receiver acknowledges it; what it says does not depend on when it
is sent. Its timestamp is added at each transmission (gateway/uplink/frames.py), and the time
the alarm changed travels with it as extended data `[H...]`, so an event sent after an
outage still says when it happened.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Self

from gateway.config import Transition, UplinkFormat
from gateway.uplink.frames import MessageType

__all__ = ["MAX_TEXT", "Message", "plain_text"]

MAX_TEXT = 120
"""Characters of an alarm's text in a message (DC-09 allows more; receivers show a line)."""

_NOT_PLAIN = re.compile(r"[^ -~]|[\[\]|]")
"""Outside printable ASCII, or a character that marks DC-09's fields."""
_TIME = "%H:%M:%S,%m-%d-%Y"


def plain_text(text: str) -> str:
    """`text` as a message may carry it: printable ASCII without `[`, `]` and `|` (each other
    character becomes `?`), at most `MAX_TEXT` characters."""
    return _NOT_PLAIN.sub("?", text)[:MAX_TEXT]


@dataclass(frozen=True, slots=True)
class Message:
    """One transition of one alarm, in the centre's terms.

    `zone` and `point` are the numbers of gateway.config.uplink's `Numbers`; `sia` is the SIA
    event code (`FA`), `contact_id` the Contact ID event with its qualifier (`E111`); `rank`
    orders sending (0, fire, first); `occurred_at` is the event's wall-clock time, ns.
    """

    alarm_id: str
    transition: Transition
    account: str
    zone: int
    point: int
    sia: str
    contact_id: str
    text: str
    occurred_at: int
    rank: int

    def data(self, form: UplinkFormat, with_text: bool = True) -> tuple[MessageType, str]:
        """The message type and what goes between `[` and the timestamp."""
        occurred = datetime.fromtimestamp(self.occurred_at / 1e9, UTC).strftime(_TIME)
        if form is UplinkFormat.CONTACT_ID:
            qualifier = "1" if self.contact_id[0] == "E" else "3"
            event = f"{qualifier}{self.contact_id[1:]} {self.zone:02d} {self.point:03d}"
            return MessageType.ADM_CID, f"#{self.account}|{event}][H{occurred}]"
        text = f"[I{self.text}]" if with_text and self.text else ""
        event = f"Nri{self.zone}/{self.sia}{self.point:03d}"
        return MessageType.SIA_DCS, f"#{self.account}|{event}]{text}[H{occurred}]"

    @property
    def code(self) -> str:
        """How the log names it: `FA / E111 zone 3 point 12`."""
        return f"{self.sia} / {self.contact_id} zone {self.zone} point {self.point}"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Self:
        data: dict[str, Any] = json.loads(text)
        data["transition"] = Transition(data["transition"])
        return cls(**data)
