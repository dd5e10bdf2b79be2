"""The gateway's own storage troubles as readings of itself, against real SQLite files: a
replaced file is reported once (the alarm then waits for a person), a failing disk for as
long as it fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core import Reading
from gateway.alarms import AlarmStore
from gateway.health import GatewayTroubles
from gateway.outbox import Outbox, OutboxWriter


def flags(readings: list[Reading]) -> dict[str, Any]:
    assert {reading.device for reading in readings} == {"firegw-test"}
    assert all(reading.observed_at > 1_700_000_000 * 10**9 for reading in readings)  # not 1970
    return {reading.point: reading.value for reading in readings}


async def test_a_deleted_outbox_is_replaced_by_the_check_and_reported_once(
    tmp_path: Path,
) -> None:
    published: list[list[Reading]] = []

    async def publish(readings: Any) -> None:
        published.append(list(readings))

    async with (
        Outbox(tmp_path / "outbox.sqlite") as outbox,
        AlarmStore(tmp_path / "alarms.sqlite") as store,
    ):
        writer = OutboxWriter(outbox)
        troubles = GatewayTroubles(
            device="firegw-test", outbox=outbox, writer=writer, alarm_store=store, publish=publish
        )
        first = flags(await troubles.check())
        (tmp_path / "outbox.sqlite").unlink()
        second = flags(await troubles.check())
        third = flags(await troubles.check())
        storage = troubles.as_dict()
    assert first == {
        "outbox_intact": True,
        "alarm_store_intact": True,
        "disk_full": False,
        "storage_ok": True,
        "site_id_unique": True,
        "readings_not_stored": 0,
        "alarm_events_waiting": 0,
        "feed_repairs": 0,
    }
    assert (second["outbox_intact"], third["outbox_intact"]) == (False, True)
    assert [r["reason"] for r in storage["outbox"]["replaced"]] == ["deleted while the gateway ran"]
    assert len(published) == 3
