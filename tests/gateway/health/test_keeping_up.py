"""`KeepingUp`: the time the gateway itself could not poll, measured on its real event loop."""

from __future__ import annotations

import asyncio
import time

from core.reading import Reading
from gateway.health import KeepingUp


async def test_a_starved_loop_is_counted_and_reported_once_per_period() -> None:
    published: list[list[Reading]] = []

    async def publish(readings: list[Reading]) -> None:
        published.append(list(readings))

    watch = KeepingUp("firegw-test", publish=publish, report=0.5)
    task = asyncio.create_task(watch.run())
    try:
        await asyncio.sleep(0.3)
        idle = watch.unpolled  # an idle loop keeps up (on a loaded box, nearly)
        blocked_at = time.monotonic()
        time.sleep(1.0)  # noqa: ASYNC251 - the loop starved for a second, on purpose
        await asyncio.sleep(0.3)
        starved = watch.unpolled
        since = watch.unpolled_since(blocked_at - 0.01)
        await asyncio.sleep(1.2)  # two more periods, keeping up again
    finally:
        task.cancel()
    assert idle < 0.5
    assert 0.8 <= starved - idle <= 3.0
    assert since >= 0.8
    assert watch.unpolled_since(time.monotonic()) == 0.0
    flags = [values["keeping_up"] for values in ({r.point: r.value for r in b} for b in published)]
    assert False in flags
    assert True in flags[flags.index(False) :]  # and keeping up again after
    lags = [r.value for b in published for r in b if r.point == "loop_lag"]
    assert max(lags) >= 0.8  # type: ignore[type-var]


def test_connections_waiting_their_turn_count_as_time_the_gateway_could_not_poll() -> None:
    queued = [3]
    watch = KeepingUp("firegw-test", queued=lambda: queued[0])
    watch.note(0.0, 0.1, now=100.1)  # on time, but connects still queued
    queued[0] = 0
    watch.note(0.0, 0.1, now=100.2)  # on time, all had their turn
    watch.note(0.02, 0.12, now=100.32)  # ordinary jitter
    watch.note(0.4, 0.5, now=100.82)  # late
    assert round(watch.unpolled, 3) == 0.5
    assert round(watch.unpolled_since(100.15), 3) == 0.4
    assert round(watch.unpolled_since(50.0), 3) == 0.5
    assert [r.value for r in watch.readings()] == [False, 0.4]  # 0.4 s of 1 s lagging
    assert [r.value for r in watch.readings()] == [True, 0.0]  # a new period
