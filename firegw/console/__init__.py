"""The guard console: a live web alarm board for a building or a campus, in Chinese and
English, read from the public alarm feed like any other client (`firegw console`).

Nothing in the running gateway imports it. It logs operators in (their scrypt password hash
from the site file), signs their commands with their own keys, and shows the gateway's
replies; the gateway still decides. docs/console.md says how to deploy it.
"""

from firegw.console.auth import hash_password
from firegw.console.command import add_console_commands, listen_address
from firegw.console.server import Console, tls_context

__all__ = ["Console", "add_console_commands", "hash_password", "listen_address", "tls_context"]
