"""A small InfluxQL client for the report: `/query` of InfluxDB 1.x, or of InfluxDB 2.x
through its 1.x-compatible API (a bucket mapped to a database and retention policy).

Read-only and synchronous: the report is a command that runs, reads and ends. Answers are
asked for in chunks (`chunked=true`), so a year of alarm events is never one huge document
and no `max-row-limit` of the server cuts it short.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

from firegw.report.history import HistoryError

__all__ = ["InfluxQL", "quoted", "string_literal"]

_CHUNK = 20_000
_TIMEOUT = 120.0


class InfluxQL:
    """Queries one database. `token` for InfluxDB 2.x, `username` and `password` for 1.x."""

    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        tls: ssl.SSLContext | None = None,
        shown_url: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.shown_url = shown_url or url
        self._tls = tls
        self._headers = {"Accept": "application/json"}
        if token is not None:
            self._headers["Authorization"] = f"Token {token}"
        elif username is not None:
            pair = f"{username}:{password or ''}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()

    def rows(self, query: str) -> Iterator[dict[str, Any]]:
        """Every row of every series the query returns, as a dict: its columns (`time` in
        epoch ns) and the series' tags from ``GROUP BY``.

        Raises:
            HistoryError: the server cannot be reached, refuses the query, or says why not.
        """
        for result in self._results(query):
            if "error" in result:
                raise HistoryError(f"InfluxDB {self.shown_url}: {result['error']} (in: {query})")
            for series in result.get("series", ()):
                tags = series.get("tags") or {}
                columns = series["columns"]
                for values in series.get("values", ()):
                    row = dict(zip(columns, values, strict=True))
                    row.update(tags)
                    yield row

    def series(self, query: str) -> Iterator[tuple[dict[str, str], list[str], list[list[Any]]]]:
        """Every series (or chunk of one) the query returns: its tags, columns and rows.

        Raises:
            HistoryError: as `rows`.
        """
        for result in self._results(query):
            if "error" in result:
                raise HistoryError(f"InfluxDB {self.shown_url}: {result['error']} (in: {query})")
            for part in result.get("series", ()):
                yield part.get("tags") or {}, part["columns"], part.get("values") or []

    def _results(self, query: str) -> Iterator[dict[str, Any]]:
        params = {
            "db": self.database,
            "q": query,
            "epoch": "ns",
            "chunked": "true",
            "chunk_size": str(_CHUNK),
        }
        request = urllib.request.Request(
            f"{self.url}/query?{urllib.parse.urlencode(params)}", headers=self._headers
        )
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT, context=self._tls) as answer:
                for line in answer:
                    if line.strip():
                        body = json.loads(line)
                        if "error" in body:
                            raise HistoryError(f"InfluxDB {self.shown_url}: {body['error']}")
                        yield from body.get("results", ())
        except urllib.error.HTTPError as error:
            raise HistoryError(
                f"InfluxDB {self.shown_url}: HTTP {error.code}: {_reason(error)}"
            ) from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise HistoryError(f"InfluxDB {self.shown_url}: cannot query: {reason}") from None


def _reason(error: urllib.error.HTTPError) -> str:
    try:
        text = error.read().decode(errors="replace")
        parsed = json.loads(text)
        return str(parsed.get("error", text)) if isinstance(parsed, dict) else text
    except (OSError, ValueError):
        return str(error.reason)


def quoted(name: str) -> str:
    """An InfluxQL identifier in double quotes."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def string_literal(text: str) -> str:
    """An InfluxQL string literal in single quotes."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
