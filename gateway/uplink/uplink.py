"""The uplink as the gateway runs it: the queue, the intake, the link and their readings."""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Any, Self

from core import Reading, ReadingSink, now_ns
from gateway.alarms import AlarmStore
from gateway.config import Site, UplinkFormat, UplinkProtocol, UplinkSettings, key_bytes
from gateway.uplink.intake import Intake
from gateway.uplink.link import Link
from gateway.uplink.queue import UplinkQueue
from gateway.uplink.reporting import Reporter
from gateway.uplink.transport import TcpPath, Transport, UdpPath

__all__ = ["REPORT_INTERVAL", "Uplink"]

log = logging.getLogger(__name__)

REPORT_INTERVAL = 5.0
"""Seconds between two reports of the uplink's readings (and at once when the path changes)."""


class Uplink:
    """The site's uplink to its alarm receiving centre over SIA DC-09.

    Made at start-up, before any I/O but reading the key and the TLS files, so that a key
    that is missing or not a key stops the start, named. Entered (`async with`) it opens its
    queue; `run(store)` then takes the alarm store's events into the queue and sends them
    until cancelled (a supervised task), and every `interval` seconds hands the hub readings
    of the gateway itself (device `SiteInfo.gateway_id`, kind `gateway`):

    - `uplink_ok`: false while the path is down (rule `uplink_down` raises the trouble),
      true once the receiver acknowledges; not reported until this run knows which, so that
      a restart during an outage does not return `uplink_down` only to raise it again;
    - `uplink_waiting`: messages not yet acknowledged; `uplink_delay`: seconds the oldest
      has waited; `uplink_set_aside`: messages the receiver did not understand.

    Raises `LookupError` (the key, a TLS file) or `ValueError` (a key of the wrong form) from
    the constructor, naming the setting.
    """

    def __init__(
        self,
        site: Site,
        *,
        publish: ReadingSink | None = None,
        interval: float = REPORT_INTERVAL,
    ) -> None:
        settings = site.config.uplink
        if settings is None:
            raise LookupError("the site has no uplink:")
        self.site = site
        self.settings: UplinkSettings = settings
        self.publish = publish
        self.interval = interval
        self.device = site.config.site.gateway_id
        self.key = _key(settings)
        self.transport = _transport(settings, site)
        self.queue = UplinkQueue(site.uplink_queue_path)
        self.reporter = Reporter(site, settings)
        accounts = sorted({settings.account, *settings.accounts.values()})
        self.link = Link(
            settings,
            self.queue,
            self.transport,
            self.key,
            tuple(accounts),
            on_change=self._report_soon,
        )
        self.intake: Intake | None = None
        self.waiting = 0
        self.delay = 0.0
        self.set_aside = 0
        self._report_now = asyncio.Event()

    async def __aenter__(self) -> Self:
        await self.queue.__aenter__()
        log.info(
            "uplink: SIA DC-09 (%s) to %s, account %s, %s, link test every %g s",
            "SIA codes" if self.settings.format is UplinkFormat.SIA else "Contact ID",
            self.transport.where,
            self.settings.account,
            "AES-encrypted" if self.key else "not encrypted",
            self.settings.supervision,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.transport.close()
        await self.queue.__aexit__(exc_type, exc, tb)

    async def run(self, store: AlarmStore) -> None:
        """Take and send until cancelled (see the class)."""
        if self.intake is None or self.intake.store is not store:
            self.intake = Intake(store, self.queue, self.reporter, self.link.wake)
        intake = self.intake
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(intake.run(), name="uplink-intake")
            tasks.create_task(self.link.run(), name="uplink-link")
            tasks.create_task(self._report_forever(), name="uplink-readings")

    def readings(self) -> list[Reading]:
        """The uplink's state as readings of the gateway (see the class)."""
        values: dict[str, tuple[bool | int | float, str | None]] = {
            **({"uplink_ok": (not self.link.down, None)} if self.link.known else {}),
            "uplink_waiting": (self.waiting, "messages"),
            "uplink_delay": (round(self.delay, 3), "s"),
            "uplink_set_aside": (self.set_aside, "messages"),
        }
        return [
            Reading(self.device, point, value, unit=unit) for point, (value, unit) in values.items()
        ]

    def as_dict(self) -> dict[str, Any]:
        """For a status document: where it sends, whether the path is up, what waits."""
        return {
            "receiver": self.transport.where,
            "ok": not self.link.down,
            "failing_for": round(self.link.failing_for, 1),
            "last_error": self.link.health.last_error,
            "last_ack_at": self.link.last_ack_at,
            "waiting": self.waiting,
            "delay": round(self.delay, 3),
            "set_aside": self.set_aside,
            "clock_offset": round(self.link.offset, 1),
            **self.link.stats.as_dict(),
        }

    def _report_soon(self) -> None:
        self._report_now.set()

    async def _report_forever(self) -> None:
        while True:
            self._report_now.clear()
            await self._report()
            try:
                async with asyncio.timeout(self.interval):
                    await self._report_now.wait()
            except TimeoutError:
                pass

    async def _report(self) -> None:
        waiting, oldest, aside = await self.queue.backlog()
        self.waiting, self.set_aside = waiting, aside
        self.delay = 0.0 if oldest is None else max(0.0, (now_ns() - oldest) / 1e9)
        if self.publish is not None:
            await self.publish(self.readings())


def _key(settings: UplinkSettings) -> bytes | None:
    if settings.key is None:
        return None
    try:
        return key_bytes(settings.key.reveal(), settings.key_format)
    except LookupError as error:
        raise LookupError(f"uplink.key: {error}") from None
    except ValueError as error:
        raise ValueError(f"uplink.key: {error}") from None


def _transport(settings: UplinkSettings, site: Site) -> Transport:
    if settings.protocol is UplinkProtocol.UDP:
        return UdpPath(settings.host, settings.port)
    try:
        tls = settings.tls.context(site.path.parent) if settings.tls is not None else None
    except LookupError as error:
        raise LookupError(f"uplink.tls.{error}") from None
    return TcpPath(settings.host, settings.port, timeout=settings.ack_timeout, tls=tls)
