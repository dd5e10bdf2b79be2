"""The uplink to the alarm receiving centre: what the site file's `uplink:` may say.

```yaml
uplink:
  host: arc.example.net        # the centre's SIA DC-09 receiver
  port: 12128
  protocol: tcp                # or udp
  format: sia                  # SIA DC-03 codes ("SIA-DCS"), or contact_id ("ADM-CID")
  account: "1234"              # the site's account, 3-16 hex digits
  accounts: {ipd1: "1235"}     # optional: a building's own account
  key: {file: /etc/firegw/uplink.key}   # optional AES key; key_format: hex or text
  supervision: 60s             # a link test after this long without a message
  codes:                       # optional: what each rule sends (docs/uplink.md)
    pre_alarm: {raised: [FS, E118], restored: [FV, R118]}
    detector_maintenance: off
```

docs/uplink.md has every setting, the default codes and how zones and points are numbered.
Cross-references (buildings, zones, devices and rules that must exist, numbers that must not
repeat) are checked by `uplink_problems`, the key's form by `uplink_key_problem`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from gateway.config.tls import TlsSettings
from gateway.config.values import Duration, Secret
from rules import DeviceKind

if TYPE_CHECKING:  # the site model holds an `uplink:`, so it imports this module
    from gateway.config.models import SiteConfig

BROKER_LINK = "mqtt-broker"
"""The connection to the MQTT broker, as `gateway.config.site` names it."""

__all__ = [
    "GATEWAY_POINTS",
    "SENT_KINDS",
    "KeyFormat",
    "Numbers",
    "RuleCodes",
    "Transition",
    "UplinkFormat",
    "UplinkProtocol",
    "UplinkSettings",
    "key_bytes",
    "uplink_key_problem",
    "uplink_problems",
]

MAX_ZONE = 99
"""Contact ID has two digits for the group (partition) a zone number goes in."""
MAX_POINT = 999
"""Contact ID has three digits for the zone (point) number."""

GATEWAY_POINTS: Mapping[str, int] = {
    "history_not_stored": 901,
    "outbox_nearly_full": 902,
    "outbox_replaced": 903,
    "alarm_store_replaced": 904,
    "disk_full": 905,
    "storage_failing": 906,
    "duplicate_gateway": 907,
    "uplink_down": 908,
}
"""The gateway's own trouble alarms: zone 0, each its own point (any other one: 900)."""

SENT_KINDS = (
    DeviceKind.SMOKE_DETECTOR,
    DeviceKind.HYDRANT_PRESSURE,
    DeviceKind.LINK,
    DeviceKind.GATEWAY,
)
"""Whose alarms go to the centre unless `kinds:` says otherwise: the fire system's, its
connections' and the gateway's own; not the cameras' (security, not fire)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UplinkProtocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"


class UplinkFormat(StrEnum):
    """How events are coded: SIA DC-03 event codes, or Ademco Contact ID."""

    SIA = "sia"
    CONTACT_ID = "contact_id"


class KeyFormat(StrEnum):
    """How the key file writes the AES key."""

    HEX = "hex"
    """32, 48 or 64 hex digits: the 16, 24 or 32 bytes of the key, as DC-09 gives it."""
    TEXT = "text"
    """16, 24 or 32 characters that are themselves the key's bytes, as some receivers and
    panels take it (pysiaalarm and Home Assistant's SIA integration among them)."""


class Transition(StrEnum):
    """What a centre is told about an alarm."""

    RAISED = "raised"
    RESTORED = "restored"
    """Its condition is gone (a latched fire: the detector no longer sees fire)."""
    RESET = "reset"
    """A person reset it (a latched fire): it is over."""


def _off(value: object) -> object:
    """`off` (YAML's false) for a rule the centre is not told of."""
    return None if value is False else value


def _upper(text: str) -> str:
    return text.upper()


Account = Annotated[
    str,
    Field(pattern=r"^[0-9A-Fa-f]{3,16}$", description="3 to 16 hex digits"),
    AfterValidator(_upper),
]
HexNumber = Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{1,6}$"), AfterValidator(_upper)]
SiaCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="two capital letters: FA")]
ContactIdCode = Annotated[
    str,
    Field(
        pattern=r"^[ER][0-9]{3}$",
        description="E (new event) or R (restore) and three digits: E110",
    ),
]
Code = tuple[SiaCode, ContactIdCode]
"""One transition's codes: the SIA code and the Contact ID event, such as `[FA, E110]`."""


class RuleCodes(_Model):
    """What one rule sends: `[SIA, Contact ID]` for each transition; one without is not sent."""

    raised: Code
    restored: Code | None = None
    reset: Code | None = None

    def code(self, transition: Transition) -> Code | None:
        return {
            Transition.RAISED: self.raised,
            Transition.RESTORED: self.restored,
            Transition.RESET: self.reset,
        }[transition]


class UplinkSettings(_Model):
    """A site's uplink: one SIA DC-09 receiver, the accounts, the key, the codes."""

    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(ge=1, le=65535)]
    protocol: UplinkProtocol = UplinkProtocol.TCP
    format: UplinkFormat = UplinkFormat.SIA
    account: Account = Field(description="the site's account: its gateway, its connections")
    accounts: dict[str, Account] = Field(
        default_factory=dict, description="a building's own account, by building id"
    )
    receiver_number: HexNumber = Field(default="0", description="DC-09's R field")
    line_number: HexNumber = Field(default="0", description="DC-09's L field")
    key: Secret | None = None
    key_format: KeyFormat = KeyFormat.HEX
    tls: TlsSettings | None = Field(default=None, description="TCP only: TLS to the receiver")
    supervision: Duration = Field(
        default=60.0, description="a link test (NULL message) after this long without a message"
    )
    ack_timeout: Duration = Field(default=5.0, description="how long an answer may take")
    down_after: Duration = Field(
        default=60.0,
        description="a message unacknowledged this long raises the trouble alarm uplink_down",
    )
    kinds: tuple[DeviceKind, ...] = SENT_KINDS
    zones: dict[str, Annotated[int, Field(ge=1, le=MAX_ZONE)]] = Field(default_factory=dict)
    points: dict[str, Annotated[int, Field(ge=1, le=MAX_POINT)]] = Field(default_factory=dict)
    codes: dict[str, Annotated[RuleCodes | None, BeforeValidator(_off)]] = Field(
        default_factory=dict, description="a rule's codes, or off (false) to send nothing of it"
    )
    text: bool = Field(default=True, description="SIA: the alarm's text as extended data [I]")

    @model_validator(mode="after")
    def _tls_over_tcp(self) -> Self:
        if self.tls is not None and self.protocol is UplinkProtocol.UDP:
            raise ValueError("tls: is for protocol tcp; DC-09 over UDP has only its AES key")
        return self

    def account_of(self, building: str) -> str:
        """The account a building's alarms go to."""
        return self.accounts.get(building, self.account)


def key_bytes(text: str, key_format: KeyFormat) -> bytes:
    """The AES key written as `key_format`; raises `ValueError` saying what is wrong (never
    quoting the key)."""
    if key_format is KeyFormat.TEXT:
        if len(text) not in (16, 24, 32) or not text.isascii():
            raise ValueError(
                f"with key_format text the key is 16, 24 or 32 ASCII characters, not "
                f"{len(text)} characters"
            )
        return text.encode("ascii")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ValueError(
            "with key_format hex the key is 32, 48 or 64 hex digits (0-9, A-F); "
            "for a key of 16, 24 or 32 characters, say key_format: text"
        ) from None
    if len(key) not in (16, 24, 32):
        raise ValueError(
            f"with key_format hex the key is 32, 48 or 64 hex digits, not {len(text)}; "
            "for a key of 16, 24 or 32 characters, say key_format: text"
        )
    return key


def uplink_key_problem(settings: UplinkSettings | None) -> str | None:
    """Why the uplink's key, read as the gateway will read it, is not a key of `key_format`
    (None when it is, when there is none, or when it cannot be read at all: the secret's own
    check says so)."""
    if settings is None or settings.key is None:
        return None
    try:
        text = settings.key.reveal()
    except LookupError:
        return None
    try:
        key_bytes(text, settings.key_format)
    except ValueError as error:
        return str(error)
    return None


@dataclass(frozen=True)
class Numbers:
    """Where an alarm is, in the numbers a centre has: zone (SIA `ri`, Contact ID group) and
    point (SIA address, Contact ID zone), each within its account.

    Zones are numbered 1, 2, ... in site-file order within each account, devices likewise
    (numbers given under `zones:` and `points:` are kept, and skipped by the others); the
    connections the gateway watches are zone 0, points 1, 2, ... (the Modbus endpoints in
    order, then the MQTT broker); the gateway's own alarms zone 0 and `GATEWAY_POINTS`.
    """

    zones: Mapping[str, int]
    points: Mapping[str, int]
    links: Mapping[str, int]

    @classmethod
    def of(cls, settings: UplinkSettings, config: SiteConfig) -> Self:
        building_of = {zone.id: zone.building for zone in config.zones}
        zones = [(zone.id, settings.account_of(zone.building)) for zone in config.zones]
        devices = [
            (device.id, settings.account_of(building_of.get(device.zone, "")))
            for device in config.devices
        ]
        links = [(endpoint.id, "") for endpoint in config.modbus.endpoints]
        return cls(
            _numbered(zones, settings.zones),
            _numbered(devices, settings.points),
            _numbered([*links, (BROKER_LINK, "")], settings.points),
        )


def _numbered(items: list[tuple[str, str]], given: Mapping[str, int]) -> dict[str, int]:
    """1, 2, ... per account (the second of each pair) in order, skipping the given numbers."""
    taken: dict[str, set[int]] = {}
    for name, account in items:
        if name in given:
            taken.setdefault(account, set()).add(given[name])
    numbers: dict[str, int] = {}
    following: dict[str, int] = {}
    for name, account in items:
        if name in given:
            numbers[name] = given[name]
            continue
        number = following.get(account, 0) + 1
        while number in taken.get(account, ()):
            number += 1
        following[account] = numbers[name] = number
    return numbers


Problem = tuple[tuple[str | int, ...], str]


def uplink_problems(config: SiteConfig, rule_names: set[str]) -> Iterator[Problem]:
    """What in `uplink:` does not fit the site: unknown buildings, zones, devices and rules,
    a number used twice in one account, more zones or points than the codes can carry."""
    settings = config.uplink
    if settings is None:
        return
    buildings = {building.id for building in config.buildings}
    for building in settings.accounts:
        if building not in buildings:
            yield ("uplink", "accounts", building), f"unknown building {building!r}"
    zones = {zone.id for zone in config.zones}
    for zone in settings.zones:
        if zone not in zones:
            yield ("uplink", "zones", zone), f"unknown zone {zone!r}"
    numbers = Numbers.of(settings, config)
    for point in settings.points:
        if point not in numbers.points and point not in numbers.links:
            yield ("uplink", "points", point), f"unknown device or connection {point!r}"
    for rule in settings.codes:
        if rule not in rule_names:
            known = ", ".join(sorted(rule_names))
            yield ("uplink", "codes", rule), f"unknown rule {rule!r}; rules: {known}"
    building_of = {zone.id: zone.building for zone in config.zones}
    accounts = {zone.id: settings.account_of(zone.building) for zone in config.zones}
    yield from _repeated(settings, "zones", numbers.zones, accounts, MAX_ZONE)
    accounts = {d.id: settings.account_of(building_of.get(d.zone, "")) for d in config.devices}
    yield from _repeated(settings, "points", numbers.points, accounts, MAX_POINT)
    yield from _repeated(settings, "points", numbers.links, {}, MAX_POINT)


def _repeated(
    settings: UplinkSettings,
    key: Literal["zones", "points"],
    numbered: Mapping[str, int],
    accounts: Mapping[str, str],
    most: int,
) -> Iterator[Problem]:
    """A number given twice in one account, or beyond what the codes carry; `accounts` is
    each name's account (the site's connections count in none)."""
    given = settings.zones if key == "zones" else settings.points
    seen: dict[tuple[str, int], str] = {}
    for name, number in numbered.items():
        account = accounts.get(name, "")
        where: tuple[str | int, ...] = ("uplink", key, name) if name in given else ("uplink",)
        if number > most:
            yield (
                where,
                (
                    f"{name!r} would be number {number} of account {account or settings.account}, "
                    f"more than {most}: give its building an account of its own (uplink.accounts)"
                ),
            )
        other = seen.setdefault((account, number), name)
        if other != name:
            yield where, f"{name!r} has number {number}, as {other!r} has"
