"""Payloads the MQTT driver could not fully use, as handed to a dead-letter store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core import Quality, Reading


@dataclass(frozen=True)
class RejectedPayload:
    """A payload the driver could not fully use, as it arrived: for a dead-letter store.

    `reason` is why: an unusable payload (`not JSON: ...`; no readings were made), or the
    fields of a usable document that could not be decoded (`field errors: fps: expected
    float, got str`; the other points were delivered). `received_at` is wall-clock ns.
    """

    device: str
    topic: str
    payload: bytes
    reason: str
    received_at: int


RejectHandler = Callable[[RejectedPayload], None]
"""Called in the message loop for every rejected payload: it must return at once."""


def field_error_reason(readings: Sequence[Reading]) -> str | None:
    """`field errors: fps: expected float, got str; ...` for a document's bad fields, or None."""
    errors = [f"{r.point}: {r.detail}" for r in readings if r.quality is Quality.DECODE_ERROR]
    return "field errors: " + "; ".join(errors) if errors else None
