"""The console's picture of the feed: every site's current alarms, its gateway's status and
the console's own links to the brokers, and the browsers that watch them.

The feed links (`feed.py`) write into the board; each change goes at once to every browser
as a server-sent event, rendered once per language in use. After a broker reconnect the
board is rebuilt from the retained topics: an alarm that is no longer retained is dropped
(`begin_rebuild`, `end_rebuild`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from firegw.console.journal import Journal
from firegw.console.places import Places
from firegw.console.views import alarm_key, alarm_view, event_view, status_view

log = logging.getLogger(__name__)

Document = dict[str, Any]
QUEUE_LIMIT = 20_000
"""Messages waiting for one browser; a browser that falls this far behind is disconnected
and, when it reconnects, starts again from a snapshot."""


class Listener:
    """One browser's stream: the messages waiting for it, in its language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_LIMIT)
        self.overflowed = asyncio.Event()

    def put(self, message: bytes) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed.set()


def sse(kind: str, document: object) -> bytes:
    """One server-sent event."""
    data = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return f"event: {kind}\ndata: {data}\n\n".encode()


class Board:
    def __init__(self, places: Places, journal: Journal | None = None) -> None:
        self.places = places
        self.journal = journal
        self.alarms: dict[str, Document] = {}
        """Alarm key (`site/alarm id`) -> the alarm's document as the feed has it."""
        self.statuses: dict[str, tuple[Document, int]] = {}
        """Site -> its gateway's latest status and when the console received it (ns)."""
        self.links: dict[str, Document] = {}
        """Broker -> the console's link to it: state, since, last error, its sites."""
        self.listeners: set[Listener] = set()
        self._pending: dict[str, set[str]] = {}
        self._changed: set[str] = set()

    # --- from the feed ---------------------------------------------------------------------

    def set_alarm(self, site: str, alarm_id: str, document: Document | None) -> None:
        """An alarm's retained state, or None when it is gone."""
        key = alarm_key(site, alarm_id)
        self._pending.get(site, set()).discard(key)
        if document is None:
            if self.alarms.pop(key, None) is not None:
                self._broadcast("gone", _constant({"key": key}))
            return
        document = {**document, "site": site, "id": alarm_id}
        self.alarms[key] = document
        self._broadcast("alarm", lambda lang: alarm_view(document, self.places, lang))

    def add_event(self, site: str, event: Document) -> None:
        event = {**event, "site": site}
        if self.journal is not None:
            self.journal.add(event)
        self._broadcast("event", lambda lang: event_view(event, self.places, lang))

    def set_status(self, site: str, status: Document) -> None:
        seen = time.time_ns()
        self.statuses[site] = (status, seen)
        self._broadcast("status", lambda lang: status_view(site, status, seen))

    def set_link(self, broker: str, sites: Iterable[str], state: str, error: str | None) -> None:
        """`connecting`, `online` or `reconnecting` (with the reason)."""
        link = {
            "broker": broker,
            "sites": sorted(sites),
            "state": state,
            "since": time.time_ns(),
            "error": error,
        }
        self.links[broker] = link
        self._broadcast("link", _constant(link))

    def begin_rebuild(self, sites: Iterable[str]) -> None:
        """A link (re)connected: what it had of these sites stands until the retained topics
        confirm it."""
        for site in sites:
            self._pending[site] = {key for key, a in self.alarms.items() if a["site"] == site}

    def end_rebuild(self, sites: Iterable[str]) -> None:
        """The retained topics are in: drop what they no longer hold."""
        for site in sites:
            for key in self._pending.pop(site, set()):
                if self.alarms.pop(key, None) is not None:
                    self._broadcast("gone", _constant({"key": key}))

    # --- to the browsers -------------------------------------------------------------------

    def snapshot(self, lang: str) -> Document:
        """Everything a page needs to draw the board from nothing."""
        return {
            "alarms": [alarm_view(a, self.places, lang) for a in self.alarms.values()],
            "statuses": [
                status_view(site, *self.statuses.get(site, (None, None)))
                for site in self.places.sites
            ],
            "links": list(self.links.values()),
            "layout": self.places.layout(lang),
        }

    def listen(self, lang: str) -> Listener:
        listener = Listener(lang)
        listener.put(sse("snapshot", self.snapshot(lang)))
        self.listeners.add(listener)
        return listener

    def forget(self, listener: Listener) -> None:
        self.listeners.discard(listener)

    def _broadcast(self, kind: str, view: Callable[[str], Document]) -> None:
        rendered: dict[str, bytes] = {}
        for listener in self.listeners:
            message = rendered.get(listener.lang)
            if message is None:
                message = rendered[listener.lang] = sse(kind, view(listener.lang))
            listener.put(message)


def _constant(document: Document) -> Callable[[str], Document]:
    """A view that is the same in every language."""
    return lambda lang: document
