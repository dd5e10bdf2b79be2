"""Which device a message is for: exact topics, and topic templates with a `{device}` level.

A device publishes on an exact topic (`st-lukes/nvr/OPD-CAM-01/health`), or on a *template*
shared by many devices (`st-lukes/nvr/{device}/health`, `zigbee2mqtt/{device}`), where the
`{device}` level carries the device's *key*: its id, or the name the publisher uses for it (an
NVR's channel `ch07`). Other levels of a template may be MQTT wildcards (`+`, and `#` as the
last level). The driver subscribes once per template, with `+` at the `{device}` level, and
finds each message's device by the level at that position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

PLACEHOLDER = "{device}"


def fill_template(topic: str, key: str) -> str:
    """The topic a device with `key` publishes on: `topic` with `{device}` replaced by `key`.

    An exact topic comes back unchanged. This is the one place a device's topic is resolved:
    the gateway and the simulators both use it.
    """
    return topic.replace(PLACEHOLDER, key)


def topic_problem(topic: str) -> str | None:
    """What is wrong with an exact topic or a template, or None: the text config errors show."""
    if not topic:
        return "a topic cannot be empty"
    if "\0" in topic:
        return "a topic cannot contain a NUL character"
    levels = topic.split("/")
    for problem in (_placeholder_problem(levels), _wildcard_problem(levels)):
        if problem is not None:
            return problem
    if PLACEHOLDER not in levels and ("+" in levels or "#" in levels):
        return "a topic with + or # needs a {device} level to say which device a message is for"
    return None


def _placeholder_problem(levels: list[str]) -> str | None:
    count = levels.count(PLACEHOLDER)
    if count > 1:
        return "{device} may appear only once in a topic"
    for level in levels:
        if level != PLACEHOLDER and ("{" in level or "}" in level):
            if PLACEHOLDER in level:
                return "{device} must be a whole topic level, between two '/'"
            return f"unknown placeholder in level {level!r}: the only placeholder is {{device}}"
    return None


def _wildcard_problem(levels: list[str]) -> str | None:
    for index, level in enumerate(levels):
        if level != "+" and "+" in level:
            return f"+ must be a whole topic level, not part of {level!r}"
        if level == "#" and index != len(levels) - 1:
            return "# may only be the last level of a topic"
        if level != "#" and "#" in level:
            return f"# must be a whole topic level, not part of {level!r}"
    return None


def key_problem(key: str) -> str | None:
    """What is wrong with a device's key (one topic level), or None."""
    if not key:
        return "a key cannot be empty"
    bad = sorted({c for c in key if c in "/+#{}\0"})
    if bad:
        return f"a key is one topic level: it cannot contain {' '.join(map(repr, bad))}"
    return None


def matches(subscription: str, topic: str) -> bool:
    """Whether `topic` matches the MQTT topic filter `subscription` (`+` and `#` as MQTT says)."""
    return _match_levels(subscription.split("/"), topic.split("/"))


def _match_levels(filter_levels: Sequence[str], topic_levels: Sequence[str]) -> bool:
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True  # also matches the parent level itself: 'a/#' matches 'a'
        if index >= len(topic_levels) or level not in ("+", topic_levels[index]):
            return False
    return len(filter_levels) == len(topic_levels)


def overlap(first: str, second: str) -> bool:
    """Whether some topic matches both filters (exact topics are filters without wildcards)."""
    a, b = first.split("/"), second.split("/")
    for index in range(max(len(a), len(b))):
        left = a[index] if index < len(a) else None
        right = b[index] if index < len(b) else None
        if "#" in (left, right):
            return True
        if left is None or right is None:
            return False
        if "+" not in (left, right) and left != right:
            return False
    return True


@dataclass(frozen=True)
class TopicTemplate:
    """A topic with a `{device}` level: its subscription and where the device's key is."""

    text: str
    position: int = field(init=False, repr=False)
    _filter: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        problem = topic_problem(self.text)
        if problem is not None or PLACEHOLDER not in self.text:
            raise ValueError(f"topic template {self.text!r}: {problem or 'no {device} level'}")
        object.__setattr__(self, "position", self.text.split("/").index(PLACEHOLDER))
        object.__setattr__(self, "_filter", tuple(self.subscription.split("/")))

    @property
    def subscription(self) -> str:
        """The MQTT filter the driver subscribes to: `+` at the `{device}` level."""
        return fill_template(self.text, "+")

    def key_of(self, topic: str) -> str | None:
        """The key at the `{device}` level of `topic`, or None when the topic does not match."""
        levels = topic.split("/")
        return levels[self.position] if _match_levels(self._filter, levels) else None
