"""Two sinks on one outbox, each from its own position: a local InfluxDB 1.x and a central v2
peer (VictoriaMetrics). One goes down; the other keeps writing; in the end both have it all."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.outbox import Outbox, OutboxWriter
from gateway.sinks import InfluxV1Sink
from gateway.sinks.influx_v2 import InfluxV2Sink
from tests.conftest import VictoriaFactory
from tests.gateway.sinks.test_influx_v1 import drained, expected_keys, hydrant_lines, stored_keys
from tests.gateway.sinks.test_influx_v2 import expected_samples, stored_samples
from tests.servers import InfluxServer


async def test_a_sink_that_is_down_keeps_its_backlog_while_the_other_writes(
    influxdb: InfluxServer, victoria_metrics_factory: VictoriaFactory, tmp_path: Path
) -> None:
    central_server = victoria_metrics_factory()
    total = 3000
    lines = hydrant_lines(total)
    local = InfluxV1Sink(influxdb.url, "two-sinks", name="local", batch_size=200)
    central = InfluxV2Sink(
        central_server.url,
        "st-lukes",
        "fire",
        "token",
        name="central",
        batch_size=200,
        retry_initial=0.05,
        retry_max=0.2,
    )
    outbox = Outbox(tmp_path / "outbox.db", sinks=["local", "central"])
    async with outbox, local, central, asyncio.TaskGroup() as tasks:
        writer = OutboxWriter(outbox, on_commit=lambda: (local.wake(), central.wake()))
        running = [
            tasks.create_task(task)
            for task in (writer.run(), local.run(outbox), central.run(outbox))
        ]
        await outbox.append(lines[:1000])
        await drained(outbox)

        await asyncio.to_thread(central_server.stop)
        for line in lines[1000:2000]:
            await writer.put(line)
        await writer.flush()
        local_reader, central_reader = outbox.reader("local"), outbox.reader("central")
        async with asyncio.timeout(10):
            while await local_reader.backlog():  # noqa: ASYNC110 - no "caught up" event
                await asyncio.sleep(0.02)
        assert await central_reader.backlog() == 1000
        assert await outbox.backlog() == 1000  # kept for central, though local has them

        await asyncio.to_thread(central_server.start)
        await outbox.append(lines[2000:])
        await drained(outbox)
        for task in running:
            task.cancel()
    assert (local.written, central.written) == (total, total)
    assert sorted(stored_keys(influxdb, "two-sinks")) == sorted(expected_keys(total))
    central_samples = stored_samples(central_server)
    assert len(central_samples) == total  # VictoriaMetrics keeps duplicates: none was sent twice
    assert set(central_samples) == expected_samples(total)


async def test_positions_survive_a_restart_and_a_removed_sink_is_forgotten(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.db"
    async with Outbox(path, sinks=["a", "b"]) as outbox:
        await outbox.append(hydrant_lines(10))
        rows = await outbox.peek(10)
        assert await outbox.reader("a").advance(rows[5][0]) == 0
        assert await outbox.reader("b").advance(rows[2][0]) == 3
    async with Outbox(path, sinks=["a", "b"]) as outbox:
        assert await outbox.reader("a").backlog() == 4
        assert await outbox.reader("b").backlog() == 7
    async with Outbox(path, sinks=["a"]) as outbox:
        assert await outbox.backlog() == 4  # b no longer pins rows a has delivered
        assert [line for _, line in await outbox.reader("a").peek(10)] == hydrant_lines(10)[6:]
