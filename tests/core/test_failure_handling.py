"""The one way failure is handled: backoff, a connection's log lines, and the two boundaries."""

from __future__ import annotations

import asyncio
import logging
import random
import re

import pytest

from core import (
    FULL_JITTER,
    Backoff,
    Boundary,
    ConnectionHealth,
    FiregwError,
    RateLimit,
    restarts,
    stopping,
    supervise,
)
from core.connection import Counters

LOG = logging.getLogger("tests.core")


@pytest.mark.parametrize(
    ("spread", "low", "high"),
    [
        ((1.0, 1.2), [1, 2, 4, 8, 8], [1.2, 2.4, 4.8, 9.6, 9.6]),
        (FULL_JITTER, [0] * 5, [1, 2, 4, 8, 8]),
    ],
    ids=["reconnect", "full jitter"],
)
def test_backoff_doubles_to_its_cap_within_its_spread(
    spread: tuple[float, float], low: list[float], high: list[float]
) -> None:
    for seed in range(50):
        backoff = Backoff(1.0, 8.0, spread=spread, rng=random.Random(seed))
        delays = [backoff.next_delay() for _ in range(5)]
        assert all(lo <= d <= hi for d, lo, hi in zip(delays, low, high, strict=True))


def test_backoff_starts_again_after_a_reset() -> None:
    backoff = Backoff(0.5, 30.0, spread=(1.0, 1.0))
    assert [backoff.next_delay() for _ in range(3)] == [0.5, 1.0, 2.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


@pytest.mark.parametrize(
    ("initial", "cap", "spread", "message"),
    [
        (0.0, 1.0, (1.0, 1.2), "backoff needs 0 < initial <= cap, got 0.0, 1.0"),
        (2.0, 1.0, (1.0, 1.2), "backoff needs 0 < initial <= cap, got 2.0, 1.0"),
        (1.0, 2.0, (1.5, 1.0), "backoff spread needs 0 <= low <= high, got (1.5, 1.0)"),
    ],
)
def test_backoff_refuses_nonsense(
    initial: float, cap: float, spread: tuple[float, float], message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        Backoff(initial, cap, spread=spread)


def messages(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == LOG.name]


def test_an_outage_is_three_lines_however_long_it_lasts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOG.name)
    counters = Counters()
    health = ConnectionHealth(LOG, "endpoint panel", retrying="retrying", counters=counters)
    health.failed("cannot connect to 10.0.0.5:502")
    health.failed("cannot connect to 10.0.0.5:502")
    health.connected("10.0.0.5:502")
    health.lost("connection to 10.0.0.5:502 lost")
    for _ in range(5):
        health.failed("cannot connect to 10.0.0.5:502")
    health.connected("10.0.0.5:502", "3 devices")
    assert [m for m in messages(caplog) if m[0] != "DEBUG"] == [
        ("WARNING", "endpoint panel: cannot connect to 10.0.0.5:502; retrying"),
        ("INFO", "endpoint panel: connected to 10.0.0.5:502"),
        ("WARNING", "endpoint panel: connection to 10.0.0.5:502 lost"),
        ("INFO", "endpoint panel: connected to 10.0.0.5:502 again, 3 devices"),
    ]
    assert sum(level == "DEBUG" for level, _ in messages(caplog)) == 6
    assert counters == Counters(connects=2, reconnects=1, connect_failures=7)
    assert (health.up, health.failures, health.last_error) == (True, 0, None)


def test_a_connection_that_drops_while_up_is_logged_but_not_a_failed_connect(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOG.name)
    health = ConnectionHealth(LOG, "MQTT", retrying="reconnecting")
    health.connected("broker:1883")
    health.failed("broker broker:1883 unavailable (gone)")
    assert messages(caplog)[-1] == (
        "WARNING",
        "MQTT: broker broker:1883 unavailable (gone); reconnecting",
    )
    assert (health.up, health.counters.connect_failures, health.last_error) == (
        False,
        0,
        "broker broker:1883 unavailable (gone)",
    )


def test_a_recovery_says_how_many_attempts_failed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOG.name)
    health = ConnectionHealth(LOG, "influxdb http://db", retrying="retrying in the background")
    health.recovered("writing again")  # the first success says nothing
    health.failed("HTTP 503")
    health.failed("HTTP 503")
    health.recovered("writing again")
    assert messages(caplog) == [
        ("WARNING", "influxdb http://db: HTTP 503; retrying in the background"),
        ("INFO", "influxdb http://db: writing again after 2 failed attempts"),
    ]


def test_a_boundary_contains_errors_but_never_cancellation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger=LOG.name)
    boundary = Boundary(LOG, "hub subscriber outbox")
    for _ in range(3):
        with boundary:
            raise RuntimeError("disk full")
    with pytest.raises(asyncio.CancelledError), boundary:
        raise asyncio.CancelledError
    assert boundary.failures == 3
    [record] = [r for r in caplog.records if r.name == LOG.name]
    assert record.getMessage() == (
        "hub subscriber outbox failed (1 so far; contained, logged at most once a minute)"
    )
    assert record.exc_info is not None


def test_a_rate_limit_lets_each_key_through_once_per_period() -> None:
    limit = RateLimit(60.0)
    assert [limit.due("cam-1"), limit.due("cam-1"), limit.due("cam-2")] == [True, False, True]
    once = RateLimit(float("inf"))
    assert [once.due("x"), once.due("x")] == [True, False]


async def test_supervise_restarts_a_task_and_logs_an_expected_error_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="core.tasks")
    runs = 0

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise FiregwError("database refused the login")
        if runs == 2:
            raise KeyError("a bug")

    await asyncio.wait_for(supervise("test-flaky", flaky, first_delay=0.01), 30)
    assert runs == 3
    assert restarts["test-flaky"] == 2
    first, second = [r for r in caplog.records if r.name == "core.tasks"]
    assert first.getMessage() == (
        "task test-flaky stopped: database refused the login (restart 1); restarting"
    )
    assert first.exc_info is None
    assert second.getMessage() == "task test-flaky crashed (restart 2); restarting"
    assert second.exc_info is not None


class Disconnected(Exception):
    """What a client library may raise instead of the cancellation it was interrupted by."""


async def test_a_task_that_turns_its_cancellation_into_an_error_is_stopped_not_restarted() -> None:
    """aiomqtt can end a cancelled message loop with "Disconnected during message iteration":
    a supervisor that restarted it, or a reconnect loop that reconnected, would keep a
    stopping gateway running for ever."""
    started = asyncio.Event()
    runs = 0

    async def converts_its_cancellation() -> None:
        nonlocal runs
        runs += 1
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise Disconnected("during message iteration") from None

    task = asyncio.create_task(supervise("test-converts", converts_its_cancellation))
    await asyncio.wait_for(started.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)
    assert runs == 1


async def test_stopping_says_whether_this_task_was_asked_to_stop() -> None:
    seen: list[bool] = []

    async def look() -> None:
        seen.append(stopping())
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append(stopping())
            raise

    task = asyncio.create_task(look())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [False, True]
