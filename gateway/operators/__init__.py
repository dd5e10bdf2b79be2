"""Only the security office can touch an alarm: operators, their roles, signed commands.

A broker cannot tell a subscriber who published a message, so every command carries its own
proof (`signing`): an HMAC-SHA256 signature under the operator's key, with a time and a nonce
against replay. The `Authority` identifies the sender and decides from their role whether the
command may be applied; the alarm service audits every command, accepted or refused.
"""

from gateway.operators.authority import Authority, Identity, Refused
from gateway.operators.signing import new_key, sign

__all__ = ["Authority", "Identity", "Refused", "new_key", "sign"]
