"""Who sent a command, and may they do it: the gateway's own decision, whatever the broker let
through (IEC 62443-4-2 CR 1.1, identify and authenticate people; CR 2.1, authorise them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from core import FiregwError
from gateway.config import Operator, Role, Site
from gateway.operators.signing import MIN_KEY_LENGTH, ReplayGuard, SignatureError
from rules import Action

__all__ = ["Authority", "Identity", "Refused"]


class Refused(FiregwError):
    """A command the gateway will not apply; `reason` goes into the reply and the audit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Identity:
    """An operator the gateway knows, as a command proved them to be."""

    id: str
    name: str
    role: str
    permissions: Role

    def __str__(self) -> str:
        return f"{self.id} ({self.role})"


class Authority:
    """The site's operators with their keys: identifies a command's sender, then decides.

    Built at start-up (`for_site` reads every key then, and refuses a key that is too short).
    A site without operators refuses every command, and says so.
    """

    def __init__(
        self, operators: Mapping[str, tuple[Identity, str]], guard: ReplayGuard | None = None
    ) -> None:
        self._operators = dict(operators)
        self._guard = guard or ReplayGuard()

    @classmethod
    def for_site(cls, site: Site) -> Self:
        """Raises `LookupError` naming the operator whose key cannot be read or is too short."""
        config = site.config
        return cls({op.id: (_identity(op, config.roles), _key(op)) for op in config.operators})

    def identify(self, by: str, proof: Mapping[str, Any]) -> Identity:
        """The operator named `by`, if `proof` (the whole command) is signed with their key."""
        if not self._operators:
            raise Refused("this site has no operators, so every command is refused")
        entry = self._operators.get(by)
        if entry is None:
            raise Refused(f"{by!r} is not an operator of this site")
        identity, key = entry
        try:
            self._guard.check(proof, key)
        except SignatureError as error:
            raise Refused(str(error)) from None
        return identity

    @staticmethod
    def permit(who: Identity, action: Action, *, fire: bool, reshelve: bool) -> None:
        """Raise `Refused` unless `who`'s role allows `action` on the alarms it touches."""
        role = who.permissions
        if not role.allows(action):
            raise Refused(f"{who} may not {_verb(action)}")
        if fire and not role.fire:
            raise Refused(f"{who} may not act on fire alarms")
        if reshelve and not role.reshelve:
            raise Refused(
                f"the alarm's last shelf ran out only recently; shelving it again needs a role "
                f"that may re-shelve, and {who} may not"
            )


def _identity(operator: Operator, roles: Mapping[str, Role]) -> Identity:
    return Identity(operator.id, operator.name, operator.role, roles[operator.role])


def _key(operator: Operator) -> str:
    try:
        key = operator.key.reveal()
    except LookupError as error:
        raise LookupError(f"operator {operator.id}: {error}") from None
    if len(key) < MIN_KEY_LENGTH:
        raise LookupError(
            f"operator {operator.id}: the key has {len(key)} characters, at least "
            f"{MIN_KEY_LENGTH} are needed (make one with `firegw new-key`)"
        )
    return key


def _verb(action: Action) -> str:
    return {Action.ON_SITE: "mark on site", Action.OUT_OF_SERVICE: "take out of service"}.get(
        action, str(action).replace("_", " ")
    )
