"""The console's HTTP API as an OpenAPI 3.1 document (`GET /api/openapi.json`).

A test checks that it names every route the server has, and nothing else.
"""

from __future__ import annotations

from typing import Any

_OBJECT = {"type": "object"}
_ERROR = {
    "description": "refused; `error` says why",
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"error": {"type": "string"}}}
        }
    },
}


def _json(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema or _OBJECT}},
    }


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _query(name: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": {"type": kind}}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


_STRING = {"type": "string"}
_ACTIONS = {
    "type": "string",
    "enum": [
        "acknowledge",
        "on_site",
        "reset",
        "shelve",
        "unshelve",
        "out_of_service",
        "in_service",
    ],
}
_LANG = _query("lang", "zh-CN or en (default: the session's language)")
_PUBLIC: list[dict[str, Any]] = []
_CSRF: list[dict[str, list[str]]] = [{"session": [], "csrf": []}]


def openapi_document() -> dict[str, Any]:
    get, post = "get", "post"
    paths: dict[str, dict[str, Any]] = {
        "/": {
            get: {
                "summary": "the console's page",
                "security": _PUBLIC,
                "responses": {"200": {"description": "HTML"}},
            }
        },
        "/api/openapi.json": {
            get: {
                "summary": "this document",
                "security": _PUBLIC,
                "responses": {"200": _json("OpenAPI 3.1")},
            }
        },
        "/api/catalog/{lang}": {
            get: {
                "summary": "the words of the page in one language",
                "security": _PUBLIC,
                "parameters": [_path("lang")],
                "responses": {"200": _json("the catalogue"), "404": _ERROR},
            }
        },
        "/api/login": {
            post: {
                "summary": "log in as an operator of the site files; sets the session cookie",
                "security": _PUBLIC,
                "requestBody": _body(
                    {"operator": _STRING, "password": _STRING, "lang": _STRING},
                    ["operator", "password"],
                ),
                "responses": {
                    "200": _json(
                        "the session: operator, name, lang, csrf, sites with role and actions"
                    ),
                    "401": _ERROR,
                    "429": _ERROR,
                },
            }
        },
        "/api/logout": {
            post: {
                "summary": "end the session",
                "security": _CSRF,
                "responses": {"200": _json("done"), "401": _ERROR},
            }
        },
        "/api/session": {
            get: {
                "summary": "who is logged in, and what they may do per site",
                "responses": {"200": _json("the session"), "401": _ERROR},
            }
        },
        "/api/session/language": {
            post: {
                "summary": "choose the session's language",
                "security": _CSRF,
                "requestBody": _body(
                    {"lang": {"type": "string", "enum": ["zh-CN", "en"]}}, ["lang"]
                ),
                "responses": {"200": _json("the session"), "400": _ERROR},
            }
        },
        "/api/alarms": {
            get: {
                "summary": "the active alarms, most urgent first, with their words in the language",
                "parameters": [
                    _LANG,
                    *(
                        _query(n, f"only this {n}")
                        for n in ("site", "building", "zone", "class", "priority", "state")
                    ),
                    _query("needs_person", "only alarms that still need a person"),
                    _query("raw", "the feed's documents exactly as they are"),
                ],
                "responses": {"200": _json("{alarms: [...]}"), "401": _ERROR},
            }
        },
        "/api/alarms/{site}/{alarm}/events": {
            get: {
                "summary": "the event history of one alarm, oldest first",
                "parameters": [_path("site"), _path("alarm"), _LANG],
                "responses": {"200": _json("{events: [...]}"), "401": _ERROR},
            }
        },
        "/api/events": {
            get: {
                "summary": "search the journal of the last days, newest first",
                "parameters": [
                    _query("q", "text in the alarm id, message, cause, who, or a zone's name"),
                    _query("since", "wall-clock ns", "integer"),
                    _query("until", "wall-clock ns", "integer"),
                    _query("site", "only this site"),
                    _query("limit", "at most this many (500)", "integer"),
                    _LANG,
                ],
                "responses": {"200": _json("{events: [...]}"), "400": _ERROR, "401": _ERROR},
            }
        },
        "/api/status": {
            get: {
                "summary": "each gateway's status and the console's broker links",
                "responses": {"200": _json("{statuses, links}"), "401": _ERROR},
            }
        },
        "/api/layout": {
            get: {
                "summary": "the sites' buildings, zones and devices with their names",
                "parameters": [_LANG],
                "responses": {"200": _json("{sites: [...]}"), "401": _ERROR},
            }
        },
        "/api/commands": {
            post: {
                "summary": (
                    "act on an alarm as the logged-in operator: signed with their key, "
                    "answered by the gateway"
                ),
                "security": _CSRF,
                "requestBody": _body(
                    {"site": _STRING, "action": _ACTIONS, "alarm": _STRING, "duration": _STRING},
                    ["site", "action", "alarm"],
                ),
                "responses": {
                    "200": _json("done: {ok: true, reply}"),
                    "403": _ERROR,
                    "409": _json("the gateway refused: {ok: false, reason, reply}"),
                    "503": _ERROR,
                    "504": _ERROR,
                },
            }
        },
        "/api/commands/group": {
            post: {
                "summary": (
                    "acknowledge a group: listed alarms, or every unacknowledged alarm of "
                    "a zone or building"
                ),
                "security": _CSRF,
                "requestBody": _body(
                    {
                        "action": {"type": "string", "enum": ["acknowledge"]},
                        "alarms": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"site": _STRING, "alarm": _STRING},
                            },
                        },
                        "site": _STRING,
                        "zone": _STRING,
                        "building": _STRING,
                    },
                    [],
                ),
                "responses": {
                    "200": _json("{done, refused, results: [{site, alarm, ok, reason}]}"),
                    "400": _ERROR,
                    "403": _ERROR,
                },
            }
        },
        "/api/stream": {
            get: {
                "summary": "server-sent events: snapshot, then alarm, gone, event, status, link",
                "parameters": [_LANG],
                "responses": {"200": {"description": "text/event-stream"}, "401": _ERROR},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "firegw guard console",
            "version": "1",
            "description": (
                "The alarm board of one building or a campus, from the alarm feed. A session "
                "cookie (HttpOnly, SameSite=Strict, Secure over HTTPS) comes from /api/login; "
                "every POST also needs the session's CSRF token in X-CSRF-Token and a JSON "
                "body. Failed logins are limited per address (429)."
            ),
        },
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "firegw_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            }
        },
        "security": [{"session": []}],
        "paths": paths,
    }
