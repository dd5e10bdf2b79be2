"""The poll cycles' shared wake-ups: the groups due at one tick of the grid wait on one timer
of the event loop, and waking is as a sleep until that tick would be."""

from __future__ import annotations

import asyncio
import math

from drivers.modbus.cycle import TICK, Grid


async def test_the_waiters_of_a_tick_wake_then_and_a_cancelled_one_spares_the_rest() -> None:
    loop, grid = asyncio.get_running_loop(), Grid()
    tick = math.ceil(loop.time() / TICK) + 3
    woken: list[tuple[str, float]] = []

    async def wait(name: str) -> None:
        await grid.at(tick)
        woken.append((name, loop.time()))

    waiters = [asyncio.create_task(wait(name)) for name in ("first", "second", "third")]
    await asyncio.sleep(0)  # all three waiting
    waiters[1].cancel()
    await asyncio.wait_for(asyncio.gather(*waiters, return_exceptions=True), 30)
    assert [name for name, _ in woken] == ["first", "third"]
    assert all(at >= tick * TICK for _, at in woken)
    assert waiters[1].cancelled()


async def test_a_tick_already_past_wakes_at_once_and_later_ticks_keep_their_order() -> None:
    loop, grid = asyncio.get_running_loop(), Grid()
    now = math.ceil(loop.time() / TICK)
    woken: list[int] = []

    async def wait(tick: int) -> None:
        await grid.at(tick)
        woken.append(tick)

    await asyncio.wait_for(grid.at(now - 5), 5)  # past: done in the next turn of the loop
    waiters = [asyncio.create_task(wait(now + n)) for n in (4, 2, 3)]
    await asyncio.wait_for(asyncio.gather(*waiters), 30)
    assert woken == [now + 2, now + 3, now + 4]
