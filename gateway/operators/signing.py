"""Signed commands: proof that a command comes from an operator who holds a key, once.

A broker cannot tell a subscriber who published a message, so a command carries its own
proof: an HMAC-SHA256 signature, under the operator's key, of the whole command (every field
but the signature, as canonical JSON), a wall-clock time `at` and a random `nonce`. The gateway
holds the same key (a shared secret given as `{file:}` or `{env:}` in the site file) and
accepts a command only when the signature matches, `at` is within `window` seconds of its own
clock, and the nonce has not been seen within that window: a recorded command cannot be sent
again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

__all__ = [
    "MIN_KEY_LENGTH",
    "WINDOW",
    "ReplayGuard",
    "SignatureError",
    "canonical",
    "new_key",
    "sign",
    "signature_of",
]

WINDOW = 60.0
"""Seconds a command's `at` may differ from the gateway's clock (both run NTP)."""
MIN_KEY_LENGTH = 32
"""Characters of an operator key: `new_key` makes 43 (32 random bytes, base64url)."""
SIGNATURE = "signature"
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class SignatureError(ValueError):
    """A command whose proof does not hold; the message says why, without revealing keys."""


def new_key() -> str:
    """A new operator key: 32 random bytes, base64url without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def canonical(document: Mapping[str, Any]) -> bytes:
    """What is signed: every field but the signature, as JSON with sorted keys, no spaces."""
    fields = {key: value for key, value in document.items() if key != SIGNATURE}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode()


def signature_of(document: Mapping[str, Any], key: str) -> str:
    """The signature of `document` under `key`, base64url without padding."""
    digest = hmac.new(key.encode(), canonical(document), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(document: Mapping[str, Any], key: str, *, at_ms: int | None = None) -> dict[str, Any]:
    """The command with `at` (now, in ms), a fresh `nonce` and its `signature` added."""
    signed = dict(document)
    signed["at"] = at_ms if at_ms is not None else time.time_ns() // 1_000_000
    signed["nonce"] = secrets.token_urlsafe(18)
    signed[SIGNATURE] = signature_of(signed, key)
    return signed


class ReplayGuard:
    """Checks a command's signature, time and nonce.

    A nonce is remembered for twice the window: a command stamped at the far end of the
    window ahead is refused by its time before its nonce is forgotten. At most `capacity`
    nonces are remembered; when that many commands arrived within two windows, new ones are
    refused until the oldest expire, rather than forgetting a nonce that could then be
    replayed.
    """

    def __init__(self, *, window: float = WINDOW, capacity: int = 10_000) -> None:
        self.window = window
        self.capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()

    def check(self, document: Mapping[str, Any], key: str, *, now: float | None = None) -> None:
        """Raise `SignatureError` unless the command is signed with `key`, timely and new.

        `now` is wall-clock seconds (the gateway's clock). The nonce is remembered only when
        every check passed, so a forged command cannot use up a real one's nonce.
        """
        now = time.time() if now is None else now
        nonce = _nonce(document.get("nonce"))
        _timely(document.get("at"), now, self.window)
        given = document.get(SIGNATURE)
        if not isinstance(given, str) or not hmac.compare_digest(
            given.encode(), signature_of(document, key).encode()
        ):
            raise SignatureError("the command's signature does not match the operator's key")
        self._remember(nonce, now)

    def _remember(self, nonce: str, now: float) -> None:
        while self._seen and next(iter(self._seen.values())) < now - 2 * self.window:
            self._seen.popitem(last=False)
        if nonce in self._seen:
            raise SignatureError("the command was sent before (its nonce is not new)")
        if len(self._seen) >= self.capacity:
            raise SignatureError("too many commands at once; try again in a minute")
        self._seen[nonce] = now


def _nonce(value: object) -> str:
    if not isinstance(value, str) or not _NONCE.fullmatch(value):
        raise SignatureError("a command needs a nonce of 16 to 64 letters, digits, - or _")
    return value


def _timely(at: object, now: float, window: float) -> None:
    if not isinstance(at, int) or isinstance(at, bool):
        raise SignatureError("a command needs its time (at, milliseconds since 1970)")
    skew = at / 1000 - now
    if abs(skew) > window:
        raise SignatureError(
            f"the command's time is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} "
            f"the gateway's clock (at most {window:g} s): check both clocks (NTP)"
        )
