"""Who may touch an alarm: the site's operators, their roles, and their keys.

```yaml
roles:                       # optional: these two are the defaults
  guard: {may: [acknowledge, on_site], fire: true}
  supervisor: {may: [acknowledge, on_site, shelve, unshelve, reset, out_of_service,
                     in_service], fire: true, reshelve: true}
operators:
  - {id: chen.wei, name: Chen Wei, role: guard, key: {file: /etc/firegw/operators/chen.wei.key},
     password: {file: /etc/firegw/operators/chen.wei.password}}
```

A command names its operator (`by`) and is signed with that operator's key; the gateway holds
the same key (see gateway/operators/signing.py). `fire` lets a role act on fire alarms at all;
`reshelve` lets it shelve an alarm again right after its last shelf expired. `password` is
what the guard console (`firegw console`) checks at login: a scrypt hash made by `firegw
password-hash`, never the password itself; an operator without one cannot log in there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from gateway.config.values import Secret
from rules import Action

__all__ = ["DEFAULT_ROLES", "Operator", "Role", "role_problems"]

OperatorId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Role(_Model):
    """What an operator of this role may do."""

    may: Annotated[tuple[Action, ...], Field(min_length=1)]
    fire: bool = Field(default=False, description="may act on fire alarms")
    reshelve: bool = Field(
        default=False, description="may shelve an alarm again right after its shelf expired"
    )

    def allows(self, action: Action) -> bool:
        return action in self.may


class Operator(_Model):
    """A person of the security office: an id for commands, a name, a role and a key."""

    id: OperatorId
    name: Annotated[str, Field(min_length=1, max_length=100)]
    role: str
    key: Secret
    password: Secret | None = Field(
        default=None, description="the console login: a scrypt hash from `firegw password-hash`"
    )


DEFAULT_ROLES: Mapping[str, Role] = {
    "guard": Role(may=(Action.ACKNOWLEDGE, Action.ON_SITE), fire=True),
    "supervisor": Role(may=tuple(Action), fire=True, reshelve=True),
}


def role_problems(
    operators: tuple[Operator, ...], roles: Mapping[str, Role]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Each operator's role must exist, and each id be used once."""
    seen: dict[str, int] = {}
    for index, operator in enumerate(operators):
        if operator.role not in roles:
            known = ", ".join(sorted(roles))
            yield ("operators", index, "role"), f"unknown role {operator.role!r}; roles: {known}"
        if operator.id in seen:
            yield (
                ("operators", index, "id"),
                f"duplicate id {operator.id!r} (also at index {seen[operator.id]})",
            )
        seen.setdefault(operator.id, index)
