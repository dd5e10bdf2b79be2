"""Database URLs: what a site file may give, and how a URL is shown in logs and the status.

A URL is shown in every sink log line, in `firegw check`'s summary and on the retained status
topic that any client of the broker can read. A password written into it
(`http://firegw:secret@db:8086`, or `?u=firegw&p=secret`, which InfluxDB 1.x also takes)
would be shown with it, so the site file may not carry one there (credentials go in
`username` and `password: {file: ...}`, or `token`), and every URL that is shown is passed
through `redact_url` first: `http://***@db:8086`, as defence in depth.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

HIDDEN = "***"
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s'\"<>]*@")
"""Everything up to the URL's last `@`: a password may hold `/` or `@`; hiding the host of a
URL that has an `@` in its path is the safe side."""
_QUERY = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s?#]*)[?#][^\s'\"]*")


def url_problem(url: str, credentials: str) -> str | None:
    """What is wrong with a database URL, or None; `credentials` says where a user name and
    password go instead (for the message). The URL is quoted redacted, never as written."""
    shown = repr(redact_url(url))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"not a URL such as http://10.20.0.5:8086 (got {shown})"
    problems = (
        (
            parts.scheme not in ("http", "https"),
            f"a URL starts with http:// or https:// (got {shown})",
        ),
        (
            "@" in parts.netloc,
            f"a URL cannot carry a user name or password (got {shown}): anyone who can read "
            f"the logs or the status topic would read it; {credentials}",
        ),
        (
            bool(parts.query or parts.fragment) or url.endswith(("?", "#")),
            f"a URL here has no query or fragment (got {shown}); {credentials}",
        ),
        (not parts.hostname, f"a URL needs a host, as in http://10.20.0.5:8086 (got {shown})"),
        (
            port == 0 or any(char.isspace() for char in url),
            f"not a URL such as http://10.20.0.5:8086 (got {shown})",
        ),
    )
    return next((message for wrong, message in problems if wrong), None)


def redact_url(url: str) -> str:
    """`url` with any user name, password, query and fragment replaced by `***`."""
    return redact_urls(url)


def redact_urls(text: str) -> str:
    """`text` (a log line, an error) with every URL in it redacted as `redact_url` does."""
    text = _USERINFO.sub(rf"\1{HIDDEN}@", text)
    return _QUERY.sub(rf"\1?{HIDDEN}", text)
