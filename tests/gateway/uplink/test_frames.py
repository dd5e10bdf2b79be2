"""DC-09 blocks as pysiaalarm (a receiver nobody here wrote) reads them, and its answers as the
uplink reads them: SIA and Contact ID, in the clear and AES-encrypted."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pysiaalarm import SIAAccount, SIAEvent
from pysiaalarm.base_server import BaseSIAServer
from pysiaalarm.utils import Counter

from gateway.config import Transition, UplinkFormat
from gateway.uplink.cipher import BLOCK, decrypt, encrypt, padding
from gateway.uplink.frames import (
    AnswerError,
    MessageType,
    Reply,
    Route,
    block,
    crc16,
    parse_answer,
)
from gateway.uplink.messages import Message, plain_text
from tests.gateway.uplink.sites import KEY

FIRE = Message(
    alarm_id="fire:SD-1F-01",
    transition=Transition.RAISED,
    account="1234",
    zone=3,
    point=12,
    sia="FA",
    contact_id="E111",
    text="Smoke detector SD-1F-01 in fire (fire:SD-1F-01)",
    occurred_at=1_767_225_600_000_000_000,
    rank=0,
)


def now() -> datetime:
    """The time a block is sent: now, as the receiver checks it (within its window of a
    minute or so, so never a time taken when the module was collected)."""
    return datetime.now(UTC)


def receiver(key: str | None = KEY) -> BaseSIAServer:
    return BaseSIAServer({"1234": SIAAccount("1234", key)}, Counter())


def test_crc_is_crc16_arc() -> None:
    assert crc16(b"123456789") == 0xBB3D  # the ARC variant's check value
    assert crc16(b"") == 0


@pytest.mark.parametrize("key", [None, KEY], ids=["clear", "encrypted"])
@pytest.mark.parametrize(
    ("form", "fields"),
    [
        (UplinkFormat.SIA, {"code": "FA", "ri": "3", "message": "012"}),
        (
            UplinkFormat.CONTACT_ID,
            {"code": "FA", "event_qualifier": "1", "event_type": "111", "partition": "03"},
        ),
    ],
    ids=["sia", "contact-id"],
)
def test_pysiaalarm_reads_an_event_and_acknowledges_it(
    form: UplinkFormat, fields: dict[str, str], key: str | None
) -> None:
    kind, data = FIRE.data(form)
    raw = block(kind, 42, Route("1234"), data, sent_at=now(), key=key.encode() if key else None)
    event = SIAEvent.from_line(raw.decode("ascii").strip(), {"1234": SIAAccount("1234", key)})
    assert {name: getattr(event, name) for name in fields} == fields
    assert event.sequence == "0042"
    assert event.encrypted is (key is not None)
    assert event.valid_message  # the CRC
    assert event.valid_timestamp
    answer = parse_answer(event.create_response(), key.encode() if key else None)
    assert (answer.reply, answer.sequence, answer.account) == (Reply.ACK, 42, "1234")
    assert answer.encrypted is (key is not None)


def test_sia_carries_the_alarm_text_and_the_time_it_happened() -> None:
    kind, data = FIRE.data(UplinkFormat.SIA)
    raw = block(kind, 1, Route("1234"), data, sent_at=now())
    event = SIAEvent.from_line(raw.decode("ascii").strip(), {"1234": SIAAccount("1234")})
    extended = {entry.identifier: entry.value for entry in event.extended_data or []}
    assert extended == {
        "I": "Smoke detector SD-1F-01 in fire (fire:SD-1F-01)",
        "H": "00:00:00,01-01-2026",
    }


def test_contact_id_restores_have_qualifier_3() -> None:
    restored = replace(FIRE, transition=Transition.RESTORED, contact_id="R111")
    kind, data = restored.data(UplinkFormat.CONTACT_ID)
    assert kind is MessageType.ADM_CID
    assert data.startswith("#1234|3111 03 012]")


@pytest.mark.parametrize("key", [None, KEY], ids=["clear", "encrypted"])
def test_a_link_test_is_a_null_message_pysiaalarm_acknowledges(key: str | None) -> None:
    raw = block(
        MessageType.NULL, 7, Route("1234"), "]", sent_at=now(), key=key.encode() if key else None
    )
    event = receiver(key).parse_and_check_event(raw)
    assert isinstance(event, SIAEvent)
    assert event.code == "RP"  # pysiaalarm's name for a link test: automatic test
    answer = parse_answer(event.create_response(), key.encode() if key else None)
    assert (answer.reply, answer.sequence) == (Reply.ACK, 7)


def test_a_wrong_key_is_refused_with_the_receivers_time() -> None:
    raw = block(
        MessageType.SIA_DCS, 3, Route("1234"), "#1234|Nri1/FA001]", sent_at=now(), key=KEY.encode()
    )
    event = receiver("FEDCBA9876543210").parse_and_check_event(raw)
    assert event is not None
    answer = parse_answer(event.create_response(), KEY.encode())
    assert answer.reply is Reply.NAK
    assert answer.sent_at is not None
    assert abs((answer.sent_at - datetime.now(UTC)).total_seconds()) < 5


def test_an_old_timestamp_is_refused() -> None:
    raw = block(
        MessageType.SIA_DCS,
        3,
        Route("1234"),
        "#1234|Nri1/FA001]",
        sent_at=now() - timedelta(minutes=5),
        key=KEY.encode(),
    )
    event = receiver().parse_and_check_event(raw)
    assert event is not None
    assert parse_answer(event.create_response(), KEY.encode()).reply is Reply.NAK


def test_an_unknown_code_is_not_understood() -> None:
    raw = block(MessageType.SIA_DCS, 5, Route("1234"), "#1234|Nri1/AX001]", sent_at=now())
    event = receiver(None).parse_and_check_event(raw)
    assert event is not None
    assert parse_answer(event.create_response()).reply is Reply.DUH


def _answer(body: str) -> bytes:
    return b"\n" + f"{crc16(body.encode()):04X}{len(body):04X}".encode() + body.encode() + b"\r"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\n\r", "too short for an answer: b'\\n\\r'"),
        (_answer('"ACK"0001R0L0#1234[]').replace(b'"ACK"', b'"ACX"'), "CRC"),
        (b"\nZZAX0014" + b'"ACK"0001R0L0#1234[]' + b"\r", "no CRC and length at the start"),
        (_answer('"ACK"0001R0L0#1234[]')[:-2] + b"]]\r", "CRC"),
        (_answer('"HELLO"0001R0L0#1234[]'), "not an ACK, NAK, DUH or RSP"),
    ],
    ids=["empty", "crc", "no-crc", "changed", "unknown"],
)
def test_what_is_not_an_answer_is_said_so(raw: bytes, reason: str) -> None:
    with pytest.raises(AnswerError) as error:
        parse_answer(raw)
    assert reason in error.value.reason


def test_a_length_that_does_not_match_is_refused() -> None:
    body = '"ACK"0001R0L0#1234[]'
    raw = b"\n" + f"{crc16(body.encode()):04X}{len(body) + 1:04X}".encode() + body.encode() + b"\r"
    with pytest.raises(AnswerError, match="length 21 does not match the answer's 20"):
        parse_answer(raw)


def test_with_a_key_an_ack_in_the_clear_or_under_another_key_is_not_trusted() -> None:
    with pytest.raises(AnswerError, match="ACK in the clear to an encrypted message"):
        parse_answer(_answer('"ACK"0001R0L0#1234[]'), KEY.encode())
    other = b"FEDCBA9876543210"
    hidden = encrypt(other, "00000000000]_12:00:00,01-01-2026")
    with pytest.raises(AnswerError, match="an encrypted ACK that this key does not decrypt"):
        parse_answer(_answer(f'"*ACK"0001R0L0#1234[{hidden}'), KEY.encode())
    with pytest.raises(AnswerError, match="no key to read it"):
        parse_answer(_answer(f'"*ACK"0001R0L0#1234[{hidden}'))


def test_padding_fills_whole_blocks_with_no_field_marks() -> None:
    for length in range(40):
        pad = padding(length)
        assert 1 <= len(pad) <= BLOCK
        assert (len(pad) + length) % BLOCK == 0
        assert not set(pad) & set("|[]")


def test_decrypt_gives_none_for_what_is_not_a_ciphertext() -> None:
    key = KEY.encode()
    assert decrypt(key, encrypt(key, "A" * 32)) == "A" * 32
    assert decrypt(key, "not hex") is None
    assert decrypt(key, "ABCD") is None  # not whole blocks
    assert decrypt(key, "") is None


def test_plain_text_keeps_printable_ascii_without_field_marks() -> None:
    assert plain_text("in fire [zone|3] 急诊") == "in fire ?zone?3? ??"
    assert len(plain_text("x" * 500)) == 120
