"""The guard console: an aiohttp server with the page, its HTTP API and a server-sent event
stream, fed by one reconnecting MQTT link per broker.

Everything the page needs is in this package (`static/`, `catalog/`): nothing is fetched
from the internet, so it works on a closed hospital LAN. Every API call but the login, the
catalogues and the OpenAPI document needs a session; every POST needs the session's CSRF
token in `X-CSRF-Token` and a JSON body, and is refused from another origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from core import supervise
from drivers.mqtt import BrokerSpec
from firegw.console.auth import Accounts, LoginLimit, Person, Session, Sessions
from firegw.console.board import Board, sse
from firegw.console.feed import FeedLink, NotConnected, new_request_id
from firegw.console.i18n import DEFAULT_LANGUAGE, LANGUAGES, catalog, language
from firegw.console.journal import Journal
from firegw.console.openapi import openapi_document
from firegw.console.places import Place, Places
from firegw.console.views import alarm_view, event_view, status_view
from gateway.config import Site
from gateway.operators import sign
from rules import Action, Priority

log = logging.getLogger(__name__)

COOKIE = "firegw_session"
HEARTBEAT = 15.0
BATCH_LIMIT = 1000
_STATIC = resources.files("firegw.console").joinpath("static")
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
_FLOOD = {"acknowledge"}
"""The actions a guard may give a whole group of alarms at once."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(self, status: int, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details


class Console:
    """The console for some sites, each on its broker (or all on `broker`).

    `state` is the folder of the journal and the sessions (None: kept in memory).
    """

    def __init__(
        self,
        sites: Sequence[Site],
        *,
        state: Path | None = None,
        default_language: str = DEFAULT_LANGUAGE,
        broker: BrokerSpec | None = None,
        login: tuple[str, str | None] | None = None,
        client_id: str | None = None,
        journal_days: float = 7.0,
        settle: float = 0.5,
        reconnect_initial: float = 1.0,
    ) -> None:
        self.places = Places(sites)
        self.default_language = default_language
        self.journal = Journal(state / "journal.sqlite" if state else None, days=journal_days)
        self.board = Board(self.places, self.journal)
        self.accounts = Accounts.for_places(list(self.places.sites.values()))
        self.sessions = Sessions(state / "sessions.sqlite" if state else None, self.accounts)
        self.limit = LoginLimit()
        self.links = self._links(broker, login, client_id, settle, reconnect_initial)
        self._link_of = {place.id: link for link in self.links for place in link.places}
        self.secure = False
        self.url = ""

    def _links(
        self,
        broker: BrokerSpec | None,
        login: tuple[str, str | None] | None,
        client_id: str | None,
        settle: float,
        reconnect_initial: float,
    ) -> list[FeedLink]:
        """One link per broker: the sites' own brokers (with the console's `login` if
        given), or `broker` for them all."""
        groups: dict[tuple[str, int, str | None], tuple[BrokerSpec, list[Place]]] = {}
        for place in self.places.sites.values():
            spec = broker or place.site.broker("firegw-console")
            if broker is None and login is not None:
                spec = dataclasses.replace(spec, username=login[0], password=login[1])
            key = (spec.host, spec.port, spec.username)
            groups.setdefault(key, (spec, []))[1].append(place)
        base = client_id or f"firegw-console-{socket.gethostname()}"
        return [
            FeedLink(
                dataclasses.replace(spec, client_id=f"{base}-{i}" if i else base),
                places,
                self.board,
                settle=settle,
                reconnect_initial=reconnect_initial,
            )
            for i, (spec, places) in enumerate(groups.values())
        ]

    # --- running ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors, self._headers], client_max_size=1 << 20)
        get, post = app.router.add_get, app.router.add_post
        get("/", self.page)
        get("/api/openapi.json", self.openapi)
        get("/api/catalog/{lang}", self.catalog)
        post("/api/login", self.login)
        post("/api/logout", self.logout)
        get("/api/session", self.session)
        post("/api/session/language", self.set_language)
        get("/api/alarms", self.alarms)
        get("/api/alarms/{site}/{alarm}/events", self.alarm_events)
        get("/api/events", self.events)
        get("/api/status", self.status)
        get("/api/layout", self.layout)
        post("/api/commands", self.command)
        post("/api/commands/group", self.group_command)
        get("/api/stream", self.stream)
        app.router.add_static("/static", str(_STATIC), append_version=False)
        return app

    async def run(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        tls: ssl.SSLContext | None = None,
        started: Callable[[str], None] | None = None,
    ) -> None:
        """Serve until cancelled; `started` is told the console's address once it listens."""
        self.secure = tls is not None
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            async with self.journal, asyncio.TaskGroup() as tasks:
                for link in self.links:  # a bug in one link restarts it, not the console
                    tasks.create_task(supervise(f"console feed {link.name}", link.run))
                site = web.TCPSite(runner, host, port, ssl_context=tls)
                await site.start()
                bound = _bound_port(runner) or port
                shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
                self.url = f"{'https' if tls else 'http'}://{shown}:{bound}/"
                log.info("console on %s for %s", self.url, ", ".join(self.places.sites))
                if started is not None:
                    started(self.url)
                await asyncio.Event().wait()
        finally:
            await runner.cleanup()
            self.sessions.close()

    # --- middlewares -----------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as error:
            return web.json_response({"error": error.message, **error.details}, status=error.status)

    @web.middleware
    async def _headers(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        headers = response.headers
        headers.setdefault("Content-Security-Policy", _CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        if request.path.startswith("/api/"):
            headers.setdefault("Cache-Control", "no-store")
        if self.secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    # --- who is asking ---------------------------------------------------------------------

    def _session(self, request: web.Request) -> Session:
        session = self.sessions.get(request.cookies.get(COOKIE))
        if session is None:
            raise ApiError(401, "log in first")
        return session

    async def _posted(self, request: web.Request, session: Session | None) -> dict[str, Any]:
        """The JSON body of a POST from this console's own page (or an API client) that
        carries the session's CSRF token."""
        origin = request.headers.get("Origin")
        if origin is not None and origin.split("://", 1)[-1] != request.host:
            raise ApiError(403, "cross-origin requests are refused")
        if request.content_type != "application/json":
            raise ApiError(415, "send JSON (Content-Type: application/json)")
        if session is not None:
            token = request.headers.get("X-CSRF-Token", "")
            if not hmac.compare_digest(token.encode(), session.csrf.encode()):
                raise ApiError(403, "missing or wrong CSRF token (X-CSRF-Token)")
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object")
        return body

    def _lang(self, request: web.Request, session: Session | None) -> str:
        asked = request.query.get("lang")
        if asked:
            return language(asked, self.default_language)
        if session is not None:
            return session.lang
        return language(request.headers.get("Accept-Language"), self.default_language)

    # --- pages and words -------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.StreamResponse:
        text = _STATIC.joinpath("index.html").read_text("utf-8")
        text = text.replace("{default_language}", self.default_language)
        return web.Response(
            text=text, content_type="text/html", headers={"Cache-Control": "no-cache"}
        )

    async def openapi(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(openapi_document())

    async def catalog(self, request: web.Request) -> web.StreamResponse:
        lang = request.match_info["lang"]
        if lang not in LANGUAGES:
            raise ApiError(404, f"no catalogue for {lang!r}; languages: {', '.join(LANGUAGES)}")
        return web.json_response(catalog(lang), headers={"Cache-Control": "no-cache"})

    # --- login -----------------------------------------------------------------------------

    async def login(self, request: web.Request) -> web.StreamResponse:
        body = await self._posted(request, None)
        address = request.remote or "?"
        wait = self.limit.wait(address)
        if wait > 0:
            raise ApiError(
                429,
                "too many failed logins from this address; wait and try again",
                retry_after=round(wait),
            )
        operator, password = body.get("operator"), body.get("password")
        if not isinstance(operator, str) or not isinstance(password, str):
            raise ApiError(400, "give operator and password")
        person = await self.accounts.login(operator.strip(), password)
        if person is None:
            self.limit.failed(address)
            log.warning("console: failed login as %r from %s", operator[:64], address)
            raise ApiError(401, "wrong operator or password")
        self.limit.succeeded(address)
        lang = language(body.get("lang") or request.headers.get("Accept-Language"))
        token, session = self.sessions.create(person, lang)
        log.info("console: %s logged in from %s", person.id, address)
        response = web.json_response(self._session_document(session))
        response.set_cookie(
            COOKIE, token, httponly=True, samesite="Strict", secure=self.secure, path="/"
        )
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        await self._posted(request, session)
        self.sessions.delete(request.cookies.get(COOKIE, ""))
        log.info("console: %s logged out", session.person.id)
        response = web.json_response({"ok": True})
        response.del_cookie(COOKIE, path="/")
        return response

    async def session(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self._session_document(self._session(request)))

    def _session_document(self, session: Session) -> dict[str, Any]:
        person = session.person
        return {
            "operator": person.id,
            "name": person.name,
            "lang": session.lang,
            "csrf": session.csrf,
            "sites": {
                site: {
                    "role": grant.role,
                    "actions": grant.actions(),
                    "fire": grant.permissions.fire,
                    "reshelve": grant.permissions.reshelve,
                }
                for site, grant in person.grants.items()
            },
        }

    async def set_language(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        body = await self._posted(request, session)
        lang = body.get("lang")
        if lang not in LANGUAGES:
            raise ApiError(400, f"lang must be one of {', '.join(LANGUAGES)}")
        self.sessions.set_language(session, str(lang))
        return web.json_response(self._session_document(session))

    # --- what the board shows --------------------------------------------------------------

    async def alarms(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        lang = self._lang(request, session)
        query = request.query
        selected = [
            alarm
            for alarm in self.board.alarms.values()
            if all(
                query.get(name) in (None, str(alarm.get(name)))
                for name in ("site", "zone", "building", "class", "priority", "state")
            )
            and (query.get("needs_person") is None or alarm.get("needs_person"))
        ]
        selected.sort(key=urgency)
        if query.get("raw"):
            return web.json_response({"alarms": selected})
        views = [alarm_view(alarm, self.places, lang) for alarm in selected]
        return web.json_response({"alarms": views})

    async def alarm_events(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        lang = self._lang(request, session)
        site, alarm = request.match_info["site"], request.match_info["alarm"]
        events = await self.journal.history(site, alarm)
        return web.json_response({"events": [event_view(e, self.places, lang) for e in events]})

    async def events(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        lang = self._lang(request, session)
        query = request.query
        text = query.get("q", "").strip()[:200]
        try:
            since = int(query["since"]) if "since" in query else None
            until = int(query["until"]) if "until" in query else None
            limit = int(query.get("limit", "200"))
        except ValueError:
            raise ApiError(400, "since, until and limit are integers (ns, ns, count)") from None
        events = await self.journal.search(
            text=text,
            zones=self._zones_named(text),
            since=since,
            until=until,
            site=query.get("site"),
            limit=limit,
        )
        return web.json_response({"events": [event_view(e, self.places, lang) for e in events]})

    def _zones_named(self, text: str) -> list[str]:
        """The zones whose name, in any language, contains `text` (a guard types a name)."""
        if not text:
            return []
        wanted = text.lower()
        return [
            zone.id
            for place in self.places.sites.values()
            for zone in place.site.config.zones
            if wanted in zone.name.lower() or (zone.name_zh and wanted in zone.name_zh)
        ]

    async def status(self, request: web.Request) -> web.StreamResponse:
        self._session(request)
        board = self.board
        statuses = [
            status_view(site, *board.statuses.get(site, (None, None))) for site in self.places.sites
        ]
        return web.json_response({"statuses": statuses, "links": list(board.links.values())})

    async def layout(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        return web.json_response({"sites": self.places.layout(self._lang(request, session))})

    # --- what a person does ----------------------------------------------------------------

    async def command(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        body = await self._posted(request, session)
        site, action, alarm = body.get("site"), body.get("action"), body.get("alarm")
        if not all(isinstance(v, str) and v for v in (site, action, alarm)):
            raise ApiError(400, "give site, action and alarm")
        args = {"duration": body["duration"]} if body.get("duration") else {}
        reply = await self._send(session.person, str(site), str(action), str(alarm), args)
        status = 200 if reply.get("ok") else 409
        return web.json_response(
            {"ok": bool(reply.get("ok")), "reason": reply.get("reason"), "reply": reply},
            status=status,
        )

    async def group_command(self, request: web.Request) -> web.StreamResponse:
        """Acknowledge a group at once: the alarms listed, or every alarm of a zone (or a
        building) that waits for acknowledgement."""
        session = self._session(request)
        body = await self._posted(request, session)
        action = body.get("action", "acknowledge")
        if action not in _FLOOD:
            raise ApiError(400, f"a group takes only {', '.join(sorted(_FLOOD))}")
        targets = self._group(body)
        if not targets:
            raise ApiError(400, "nothing to do: no listed alarm waits for acknowledgement")
        semaphore = asyncio.Semaphore(50)

        async def one(site: str, alarm: str) -> dict[str, Any]:
            async with semaphore:
                try:
                    reply = await self._send(session.person, site, str(action), alarm, {})
                except ApiError as error:
                    return {"site": site, "alarm": alarm, "ok": False, "reason": error.message}
                return {"site": site, "alarm": alarm, "ok": reply.get("ok"), **_why(reply)}

        results = await asyncio.gather(*(one(site, alarm) for site, alarm in targets))
        done = sum(1 for r in results if r["ok"])
        return web.json_response({"done": done, "refused": len(results) - done, "results": results})

    def _group(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        listed = body.get("alarms")
        if isinstance(listed, list):
            targets = [
                (str(item.get("site")), str(item.get("alarm")))
                for item in listed
                if isinstance(item, dict)
            ]
        else:
            zone, building, site = body.get("zone"), body.get("building"), body.get("site")
            if not site or not (zone or building):
                raise ApiError(400, "give alarms, or site with zone or building")
            targets = [
                (str(a["site"]), str(a["id"]))
                for a in sorted(self.board.alarms.values(), key=urgency)
                if a["site"] == site
                and (zone is None or a.get("zone") == zone)
                and (building is None or a.get("building") == building)
                and a.get("state") in ("unacknowledged", "returned_unacknowledged")
            ]
        if len(targets) > BATCH_LIMIT:
            raise ApiError(400, f"at most {BATCH_LIMIT} alarms at once")
        return targets

    async def _send(
        self, person: Person, site: str, action: str, alarm: str, args: dict[str, Any]
    ) -> dict[str, Any]:
        """Sign the command as `person` with their key for `site`, send it, and return the
        gateway's reply. The console offers only what the role allows and refuses the rest
        itself; the gateway still decides."""
        place = self.places.sites.get(site)
        grant = person.grants.get(site)
        if place is None or grant is None:
            raise ApiError(403, f"{person.id} is not an operator of site {site}")
        try:
            wanted = Action(action)
        except ValueError:
            raise ApiError(400, f"unknown action {action!r}") from None
        if not grant.permissions.allows(wanted):
            raise ApiError(403, f"{person.id} ({grant.role}) may not {_verb(wanted)}")
        known = self.board.alarms.get(f"{site}/{alarm}")
        if known and known.get("class") == "fire" and not grant.permissions.fire:
            raise ApiError(403, f"{person.id} ({grant.role}) may not act on fire alarms")
        command = {
            "action": str(wanted),
            "alarm": alarm,
            "by": person.id,
            "request_id": new_request_id(),
            **args,
        }
        try:
            reply = await self._link_of[site].command(place, sign(command, grant.key))
        except NotConnected as error:
            raise ApiError(503, str(error)) from None
        except TimeoutError:
            raise ApiError(
                504, f"no reply from the gateway of site {site} within 10 s: is it online?"
            ) from None
        log.info(
            "console: %s %s %s: %s",
            person.id,
            wanted,
            alarm,
            "done" if reply.get("ok") else f"refused: {reply.get('reason')}",
        )
        return reply

    # --- the live stream -------------------------------------------------------------------

    async def stream(self, request: web.Request) -> web.StreamResponse:
        token = request.cookies.get(COOKIE)
        session = self._session(request)
        lang = self._lang(request, session)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        listener = self.board.listen(lang)
        try:
            while not listener.overflowed.is_set():
                try:
                    first = await asyncio.wait_for(listener.queue.get(), HEARTBEAT)
                except TimeoutError:
                    if self.sessions.get(token) is None:
                        await response.write(sse("logout", {}))
                        break
                    await response.write(b": still here\n\n")
                    continue
                chunks = [first]
                while not listener.queue.empty() and len(chunks) < 2000:
                    chunks.append(listener.queue.get_nowait())
                await response.write(b"".join(chunks))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.board.forget(listener)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response


def urgency(alarm: dict[str, Any]) -> tuple[int, bool, int, int]:
    """Most urgent first: priority, then what needs a person, then fire before the other
    classes, then the oldest."""
    try:
        rank = Priority(str(alarm.get("priority"))).rank
    except ValueError:
        rank = len(Priority)
    return (
        rank,
        not alarm.get("needs_person"),
        0 if alarm.get("class") == "fire" else 1,
        alarm.get("raised_at") or 0,
    )


def _why(reply: dict[str, Any]) -> dict[str, Any]:
    return {} if reply.get("ok") else {"reason": reply.get("reason")}


def _verb(action: Action) -> str:
    return {Action.ON_SITE: "mark on site", Action.OUT_OF_SERVICE: "take out of service"}.get(
        action, str(action).replace("_", " ")
    )


def _bound_port(runner: web.AppRunner) -> int | None:
    for server in runner.sites:
        sockets = getattr(getattr(server, "_server", None), "sockets", None) or ()
        for sock in sockets:
            return int(sock.getsockname()[1])
    return None


def tls_context(certificate: Path, key: Path) -> ssl.SSLContext:
    """HTTPS with the given certificate (chain) and key; TLS 1.2 or newer."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, key)
    return context
