"""`firegw status CONFIG`: the gateway's status document as a person reads it.

The document comes from the broker (the gateway publishes it retained, see
gateway/health/status.py), so the command works from any machine that reaches the broker, and
says `offline` with the reason when the gateway is gone.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

_ROW = "{device:<16} {state:<9} {last_good:<19} {rtt:>7}  {errors:<30} {last_error}"

STATUS_EVERY = 15.0
"""The gateway republishes its status this often (`status_every` in the document says so)."""

STALE_AFTER = 4
"""Status intervals without a new status after which `online` is not believed: the gateway
died without its last will reaching the broker, or someone else published it."""


def is_current(document: Mapping[str, Any], now_ns: int | None = None) -> bool:
    """Whether the document says the gateway is online, and said so recently enough
    (`STALE_AFTER` of its status intervals): what `firegw status` exits 0 for."""
    return document.get("state") == "online" and stale_since(document, now_ns) is None


def stale_since(document: Mapping[str, Any], now_ns: int | None = None) -> int | None:
    """When an `online` status was published (`at`, ns) if that is too long ago, else None."""
    at, every = document.get("at"), document.get("status_every")
    if not isinstance(every, int | float) or isinstance(every, bool) or every <= 0:
        every = STATUS_EVERY
    if not isinstance(at, int) or isinstance(at, bool):
        return 0  # an `online` that does not say when cannot be trusted
    now = time.time_ns() if now_ns is None else now_ns
    return at if now - at > STALE_AFTER * every * 1e9 else None


def format_status(
    document: Mapping[str, Any], *, every_device: bool = False, now_ns: int | None = None
) -> str:
    """The status as text: the gateway, devices by state, alarms, history, then the devices
    that are not ok (every device with `every_device`). An `online` status older than a few
    of its intervals is shown as stale, for what it said is no longer known to be true."""
    if document.get("state") != "online" or "devices" not in document:
        reason = f" ({document['reason']})" if document.get("reason") else ""
        return (
            f"gateway of site {document.get('site', '?')}: "
            f"{document.get('state', 'unknown')}{reason} since {_clock(document.get('at'))}"
        )
    stale = stale_since(document, now_ns)
    if stale is not None:
        every = document.get("status_every") or STATUS_EVERY
        return (
            f"gateway of site {document.get('site', '?')}: stale since {_clock(stale)}: its "
            f"last status says online, but it publishes one every {every:g} s; it has "
            "stopped, lost the broker, or that status is not its own"
        )
    lines = [_headline(document), *_warnings(document), _devices_line(document["devices"])]
    lines += _alarm_lines(document.get("alarms") or {})
    lines += _alarm_system_lines(document.get("alarm_system"))
    lines += _history_lines(document.get("history"), document.get("readings", 0))
    lines += _storage_lines(document.get("storage"))
    lines += ["", *_device_table(document.get("device_health") or {}, every_device)]
    return "\n".join(lines)


def _warnings(document: Mapping[str, Any]) -> list[str]:
    """Another gateway publishing as this site: said first, for it makes the rest doubtful."""
    feed = document.get("feed") or {}
    other = feed.get("other_gateway")
    if not isinstance(other, Mapping):
        return []
    return [
        f"TROUBLE: another gateway publishes as site {document.get('site', '?')}: instance "
        f"{other.get('instance')} on host {other.get('host')} (this one: instance "
        f"{document.get('instance')} on host {document.get('host')}); give each building "
        "its own site id"
    ]


def _storage_lines(storage: Mapping[str, Any] | None) -> list[str]:
    """The stores: failing or full, files replaced this run, what waits and what was lost."""
    if not storage:
        return []
    lines = []
    for key, name in (("outbox", "outbox"), ("alarm_store", "alarm store")):
        store = storage.get(key) or {}
        if store.get("ok") is False:
            what = "disk full" if store.get("full") else f"failing: {store.get('last_error')}"
            lines.append(f"TROUBLE: {name} {store.get('path')} {what}")
        for replaced in store.get("replaced") or []:
            kept = f", kept as {replaced['kept_as']}" if replaced.get("kept_as") else ""
            lines.append(
                f"TROUBLE: {name} {replaced.get('reason')} at {_clock(replaced.get('at'))}"
                f"{kept}; replaced by a fresh file"
            )
    events = (storage.get("alarm_store") or {}).get("events_waiting") or 0
    readings, lost = storage.get("readings_waiting") or 0, storage.get("readings_not_stored") or 0
    if events or lost or any(line.startswith("TROUBLE") for line in lines):
        lines.append(
            f"storage: {readings} readings and {events} alarm events waiting in memory for the "
            f"disk; {lost} readings not stored this run"
        )
    return lines


def _headline(document: Mapping[str, Any]) -> str:
    uptime = float(document.get("uptime") or 0)
    return (
        f"gateway of site {document.get('site', '?')}: online since "
        f"{_clock(document.get('started_at'))} (up {_duration(uptime)}); "
        f"status of {_clock(document.get('at'))}"
    )


def _devices_line(counts: Mapping[str, int]) -> str:
    states = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    return f"devices: {sum(counts.values())} ({states})"


def _alarm_lines(alarms: Mapping[str, Any]) -> list[str]:
    if not alarms:
        return []
    by_class = ", ".join(f"{name} {n}" for name, n in sorted(alarms.get("by_class", {}).items()))
    return [
        f"alarms: {alarms.get('total', 0)} ({alarms.get('unacknowledged', 0)} "
        f"unacknowledged){': ' + by_class if by_class else ''}"
    ]


def _alarm_system_lines(load: Mapping[str, Any] | None) -> list[str]:
    """The alarm system's own health (ISA-18.2): is it asking more of people than they can do?"""
    if not load:
        return []
    flood = " (FLOOD: more than 10 in 10 min)" if load.get("in_flood") else ""
    shares = load.get("priorities") or {}
    mix = ", ".join(f"{name} {share:.0%}" for name, share in shares.items() if share)
    return [
        f"alarm load: {load.get('last_10_min', 0)} in the last 10 min{flood}; "
        f"{load.get('per_10_min', 0):g} per 10 min and {load.get('peak_10_min', 0)} at the peak "
        f"over the last {_duration(float(load.get('measured_for', 0)))}; "
        f"in flood {load.get('time_in_flood', 0):.1%} of the time; "
        f"{load.get('chattering', 0)} chattering, {load.get('stale', 0)} stale"
        + (f"; announced: {mix}" if mix else "")
    ]


def _history_lines(history: Mapping[str, Any] | None, readings: int) -> list[str]:
    if not history:
        return [f"readings: {readings}"]
    lines = [
        f"readings: {readings}; outbox backlog {history['backlog']} of at most "
        f"{history['max_rows']} lines ({history['fill']:.1%}), dropped at the cap "
        f"{history['dropped']}, dead letters {history['dead_letters']}"
    ]
    for sink in history.get("sinks", []):
        error = f"last error: {sink['last_error']}" if sink.get("last_error") else "no error"
        lines.append(
            f"sink {sink['name']} {sink.get('url') or ''}: {sink['rate']:g} lines/s, "
            f"backlog {sink['backlog']}, {sink.get('behind') or 0:.0f} s behind, "
            f"last write {_clock(sink.get('last_success'), seconds=True)}, {error}"
        )
    for trouble in (history.get("filling"), history.get("late")):
        if trouble:
            lines.append(f"TROUBLE: {trouble}")
    return lines


def _device_table(health: Mapping[str, Mapping[str, Any]], every_device: bool) -> list[str]:
    shown = {device: h for device, h in health.items() if every_device or h["state"] != "ok"}
    hidden = len(health) - len(shown)
    note = [f"({hidden} devices ok; --all lists every device)"] if hidden else []
    if not shown:
        return note
    header = _ROW.format(
        device="DEVICE",
        state="STATE",
        last_good="LAST GOOD READING",
        rtt="RTT ms",
        errors="ERRORS",
        last_error="LAST ERROR",
    )
    rows = [
        _ROW.format(
            device=device,
            state=h["state"],
            last_good=_clock(h.get("last_good")),
            rtt="-" if h.get("round_trip_ms") is None else f"{h['round_trip_ms']:.1f}",
            errors=", ".join(f"{kind} {n}" for kind, n in h.get("errors", {}).items()) or "-",
            last_error=h.get("last_error") or "-",
        )
        for device, h in sorted(shown.items(), key=_worst_first)
    ]
    return [header, *rows, *note]


_ORDER = {"lost": 0, "degraded": 1, "waiting": 2, "ok": 3}


def _worst_first(item: tuple[str, Mapping[str, Any]]) -> tuple[int, str]:
    return _ORDER.get(item[1]["state"], 4), item[0]


def _clock(at: object, *, seconds: bool = False) -> str:
    """A wall-clock time given in ns (or in s with `seconds`), as local time."""
    if not isinstance(at, int | float) or isinstance(at, bool):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at if seconds else at / 1e9))


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
