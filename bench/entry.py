"""How a benchmark that runs processes starts and ends: a temporary folder, Ctrl-C and SIGTERM
stop everything, our own errors are printed without a traceback, and results are written whole.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiomqtt

from bench.processes import kill_leftovers

INTERRUPTED: list[int] = []
"""Signals that stopped the run (Ctrl-C, SIGTERM)."""

Work = Callable[[Path], Awaitable[dict[str, Any]]]


def run_in_folder(name: str, work: Work) -> dict[str, Any] | int:
    """`work(folder)` under asyncio in a fresh temporary folder, removed afterwards.

    Returns the results, or an exit status after saying why: 130 when interrupted, 1 when
    the benchmark raised `RuntimeError`s (ours: they say what went wrong). Any other error
    propagates with its traceback. Child processes still running are killed in every case.
    """
    try:
        return asyncio.run(_main(work))
    except (Exception, KeyboardInterrupt, asyncio.CancelledError) as error:
        if INTERRUPTED or isinstance(error, KeyboardInterrupt | asyncio.CancelledError):
            print("interrupted; everything stopped", file=sys.stderr)
            return 130
        failures = _leaves(error)  # task groups (the simulators' too) wrap what went wrong
        if all(isinstance(failure, RuntimeError) for failure in failures):
            for failure in failures:
                print(f"{name}: {failure}", file=sys.stderr)
            return 1
        raise
    finally:
        kill_leftovers()


def run_part(
    name: str,
    out: Path,
    work: Work,
    print_table: Callable[[dict[str, Any]], None],
    passed: Callable[[dict[str, Any]], bool] = lambda document: bool(document.get("pass", True)),
) -> int:
    """A benchmark's `main`: run `work` in a fresh folder, write its results to `out`, print
    its table; exit status 0 when `passed`, 1 when not, or `run_in_folder`'s on failure."""
    document = run_in_folder(name, work)
    if isinstance(document, int):
        return document
    write_results(out, document)
    print_table(document)
    print(f"results: {out}")
    return 0 if passed(document) else 1


def write_results(path: Path, document: dict[str, Any]) -> None:
    """The JSON results, whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(document, indent=2) + "\n")
    partial.replace(path)


async def _main(work: Work) -> dict[str, Any]:
    task = asyncio.current_task()
    if task is None:
        raise AssertionError("no current task")
    loop = asyncio.get_running_loop()

    def interrupt(signum: int) -> None:
        INTERRUPTED.append(signum)
        task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, interrupt, signum)
    loop.set_exception_handler(_quiet_mqtt_leftovers)
    with tempfile.TemporaryDirectory(prefix="firegw-bench-") as folder:
        return await work(Path(folder))


def _quiet_mqtt_leftovers(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """aiomqtt leaves a future unretrieved when the broker dies under it (Ctrl-C reaches the
    broker too); that is no news. Everything else is reported as usual."""
    if isinstance(context.get("exception"), aiomqtt.MqttError):
        return
    loop.default_exception_handler(context)


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]
