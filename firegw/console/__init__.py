"""The guard console: a live web alarm board for a building or a campus, in Chinese and
English, read from the public alarm feed like any other client (`firegw console`).

Nothing in the running gateway imports it. It logs operators in (their scrypt password hash
from the site file), signs their commands with their own keys, and shows the gateway's
replies; the gateway still decides. docs/console.md says how to deploy it.

`Console` and `tls_context` (and with them aiohttp's server) are imported when first asked
for: `firegw run` registers the console's commands but serves no console unless told to.
"""

from typing import TYPE_CHECKING

from firegw.console.auth import hash_password
from firegw.console.command import add_console_commands, listen_address

if TYPE_CHECKING:
    from firegw.console.server import Console, tls_context

__all__ = ["Console", "add_console_commands", "hash_password", "listen_address", "tls_context"]


def __getattr__(name: str) -> object:
    """`Console` or `tls_context`, imported the first time one is asked for."""
    if name in ("Console", "tls_context"):
        from firegw.console import server  # noqa: PLC0415

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
