"""A server the HTTP sinks could not reach, said in a few words.

aiohttp is loaded with the sinks that use it (this module and theirs), not with
`gateway.sinks`: a gateway without an `influxdb:` connection has no use for it.
"""

from __future__ import annotations

import ssl

import aiohttp

from gateway.config import redact_urls
from gateway.sinks.delivery import SinkError

__all__ = ["unreachable"]


def unreachable(url: str, error: BaseException) -> SinkError:
    """A retryable `SinkError` for a server that could not be reached, in a few words: a TLS
    failure named as one, a refused connection or a timeout, not a 400-character repr."""
    cause = error.__cause__ or error.__context__
    if isinstance(error, aiohttp.ClientConnectorCertificateError) or isinstance(
        cause, ssl.SSLCertVerificationError
    ):
        certificate = getattr(error, "certificate_error", cause)
        why = getattr(certificate, "verify_message", None) or str(certificate)
        reason = f"TLS handshake with {url} failed: certificate verify failed ({why})"
    elif isinstance(error, aiohttp.ClientSSLError | ssl.SSLError):
        reason = f"TLS with {url} failed: {error}"
    elif isinstance(error, aiohttp.ClientConnectorError):
        reason = f"no answer from {url} ({error.os_error.strerror or error.os_error})"
    elif isinstance(error, TimeoutError):
        reason = f"no answer from {url} (timed out)"
    else:
        reason = f"no answer from {url} ({type(error).__name__}: {error})"
    return SinkError(None, retryable=True, message=redact_urls(reason))
