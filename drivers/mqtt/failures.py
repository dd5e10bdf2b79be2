"""Why a connection to a broker failed, in words an installer can act on.

A TLS handshake that fails, or a broker that refuses the login, will fail the same way on
every retry: the reason is named once (through `core.ConnectionHealth`), not hidden behind a
generic "unavailable" while the gateway retries in silence.
"""

from __future__ import annotations

import logging
import ssl
from typing import TYPE_CHECKING

import aiomqtt
from aiomqtt.exceptions import MqttConnectError  # not exported at the top level

if TYPE_CHECKING:
    from drivers.mqtt.subscriber import BrokerSpec

__all__ = ["LibraryLog", "describe_failure"]

_LOGIN_REFUSED = {
    4: "bad user name or password",
    5: "not authorised",
    0x86: "bad user name or password",
    0x87: "not authorised",
    0x8C: "bad authentication method",
}
"""CONNACK codes for a bad user name or password, or not authorised (MQTT 3.1.1 and 5); only
in a refused connect: the same numbers mean other things in other errors ("not connected")."""
TLS_PORT = 8883


class LibraryLog(logging.Handler):
    """What the MQTT library said last, kept rather than logged.

    paho-mqtt logs its socket errors (a TLS alert from the broker, a reset) at ERROR on every
    retry, and aiomqtt then raises only "Operation timed out". Handing the library this
    logger keeps its words for `describe_failure`, which names them once, and passes them on
    at debug level only.
    """

    def __init__(self, owner: logging.Logger) -> None:
        super().__init__(logging.DEBUG)
        self.owner = owner
        self.last: str | None = None
        self.logger = logging.Logger(f"{owner.name}.paho")  # outside the tree: no propagation
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            self.last = message
        self.owner.debug("MQTT library: %s", message)

    def take(self) -> str | None:
        """The last warning or error since the previous call."""
        last, self.last = self.last, None
        return last


def describe_failure(
    error: aiomqtt.MqttError, broker: BrokerSpec, library: LibraryLog | None = None
) -> str:
    """What went wrong connecting to (or talking with) `broker`, for one log line."""
    where = broker.where
    said = library.take() if library is not None else None
    if said is not None and "[SSL: " in said:
        return _tls_alert(said, where)
    cause = error.__cause__ or error.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        why = cause.verify_message or "the broker's certificate was not accepted"
        return f"TLS handshake with {where} failed: certificate verify failed ({why})"
    if isinstance(cause, ssl.SSLError):
        return f"TLS handshake with {where} failed: {cause.reason or cause}"
    if isinstance(error, MqttConnectError) and _code(error) in _LOGIN_REFUSED:
        who = f"user {broker.username!r}" if broker.username else "an anonymous client"
        return f"broker {where} refused the login of {who} ({_LOGIN_REFUSED[_code(error)]})"
    hint = ""
    if broker.tls is None and broker.port == TLS_PORT:
        hint = f"; port {TLS_PORT} is usually a TLS listener: set mqtt.tls"
    return f"broker {where} unavailable ({error}){hint}"


def _tls_alert(said: str, where: str) -> str:
    """A TLS failure the broker reported after the handshake (TLS 1.3 sends them late)."""
    text = said.split("] ", 1)[-1].split(" (_ssl", 1)[0]
    hint = ""
    if "certificate required" in text:
        hint = " (the broker wants a client certificate: set cert_file and key_file in mqtt.tls)"
    return f"TLS handshake with {where} failed: {text}{hint}"


def _code(error: aiomqtt.MqttCodeError) -> int:
    rc = error.rc
    return rc if isinstance(rc, int) else int(getattr(rc, "value", -1))
