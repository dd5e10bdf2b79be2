"""Signed commands: the signature, the time window and the nonce, each refused with a reason."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.operators.signing import ReplayGuard, SignatureError, new_key, sign, signature_of

KEY = new_key()
NOW = 1_767_225_600.0
COMMAND = {"action": "acknowledge", "alarm": "fire:SD-1", "by": "chen.wei", "request_id": "7"}


def signed(**changes: Any) -> dict[str, Any]:
    return {**sign(COMMAND, KEY, at_ms=int(NOW * 1000)), **changes}


def test_a_signed_command_is_accepted_once() -> None:
    guard, command = ReplayGuard(), signed()
    guard.check(command, KEY, now=NOW)
    with pytest.raises(SignatureError, match=r"^the command was sent before \(its nonce"):
        guard.check(command, KEY, now=NOW + 1)


def test_a_key_is_32_random_bytes() -> None:
    keys = {new_key() for _ in range(100)}
    assert len(keys) == 100
    assert {len(key) for key in keys} == {43}


@pytest.mark.parametrize(
    ("command", "key", "now", "reason"),
    [
        (signed(), new_key(), NOW, "the command's signature does not match the operator's key"),
        (
            signed(alarm="fire:SD-2"),
            KEY,
            NOW,
            "the command's signature does not match the operator's key",
        ),
        (
            signed(by="li.na"),
            KEY,
            NOW,
            "the command's signature does not match the operator's key",
        ),
        (
            signed(signature=None),
            KEY,
            NOW,
            "the command's signature does not match the operator's key",
        ),
        (
            signed(nonce="short"),
            KEY,
            NOW,
            "a command needs a nonce of 16 to 64 letters, digits, - or _",
        ),
        (
            {k: v for k, v in signed().items() if k != "at"},
            KEY,
            NOW,
            "a command needs its time (at, milliseconds since 1970)",
        ),
        (
            signed(),
            KEY,
            NOW + 61,
            "the command's time is 61 s behind the gateway's clock (at most 60 s): "
            "check both clocks (NTP)",
        ),
        (
            signed(),
            KEY,
            NOW - 90,
            "the command's time is 90 s ahead of the gateway's clock (at most 60 s): "
            "check both clocks (NTP)",
        ),
    ],
    ids=[
        "another key",
        "alarm changed",
        "sender changed",
        "no signature",
        "bad nonce",
        "no time",
        "too old",
        "from the future",
    ],
)
def test_a_command_whose_proof_fails_is_refused_with_the_reason(
    command: dict[str, Any], key: str, now: float, reason: str
) -> None:
    with pytest.raises(SignatureError) as refused:
        ReplayGuard().check(command, key, now=now)
    assert str(refused.value) == reason


def test_a_refused_command_does_not_use_up_the_nonce() -> None:
    guard, command = ReplayGuard(), signed()
    with pytest.raises(SignatureError):
        guard.check({**command, "signature": signature_of(command, new_key())}, KEY, now=NOW)
    guard.check(command, KEY, now=NOW)


def test_a_replay_at_the_far_end_of_the_window_is_still_refused() -> None:
    guard = ReplayGuard(window=60)
    ahead = sign(COMMAND, KEY, at_ms=int((NOW + 60) * 1000))
    guard.check(ahead, KEY, now=NOW)
    with pytest.raises(SignatureError, match="sent before"):
        guard.check(ahead, KEY, now=NOW + 119)


def test_a_flood_is_refused_rather_than_forgetting_nonces() -> None:
    guard = ReplayGuard(capacity=3)
    for _ in range(3):
        guard.check(signed(), KEY, now=NOW)
    with pytest.raises(SignatureError, match=r"^too many commands at once; try again in a minute$"):
        guard.check(signed(), KEY, now=NOW)
    later = NOW + 121
    guard.check(sign(COMMAND, KEY, at_ms=int(later * 1000)), KEY, now=later)
