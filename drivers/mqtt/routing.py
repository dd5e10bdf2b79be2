"""MQTT devices and the router that finds the device a message is for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drivers.mqtt.profile import MqttProfile
from drivers.mqtt.topics import PLACEHOLDER, TopicTemplate, fill_template, topic_problem


@dataclass(frozen=True)
class MqttDevice:
    """One device and where its JSON status document is published.

    `topic` is an exact topic, or a template with a `{device}` level (`nvr/{device}/health`);
    for a template, `key` is what that level says for this device (its id when not given).
    """

    id: str
    topic: str
    profile: MqttProfile
    key: str | None = None

    def __post_init__(self) -> None:
        problem = topic_problem(self.topic)
        if problem is not None:
            raise ValueError(f"device {self.id}: topic {self.topic!r}: {problem}")
        if self.key is not None and not self.is_templated:
            raise ValueError(f"device {self.id}: a key applies only to a topic with {{device}}")

    @property
    def is_templated(self) -> bool:
        return PLACEHOLDER in self.topic

    @property
    def level_key(self) -> str:
        """What the `{device}` level of the topic says for this device."""
        return self.key if self.key is not None else self.id

    @property
    def resolved_topic(self) -> str:
        """The device's own topic: the template filled in with its key (a filter if wildcards)."""
        return fill_template(self.topic, self.level_key)


class TopicRouter:
    """The devices by topic: exact topics by lookup, templates by their `{device}` level.

    Raises ValueError when two devices would receive the same messages.
    """

    def __init__(self, devices: Sequence[MqttDevice]) -> None:
        self.exact: dict[str, MqttDevice] = {}
        self.templates: dict[TopicTemplate, dict[str, MqttDevice]] = {}
        for device in devices:
            self._add(device)

    def _add(self, device: MqttDevice) -> None:
        by_key, key = self.exact, device.topic
        if device.is_templated:
            by_key = self.templates.setdefault(TopicTemplate(device.topic), {})
            key = device.level_key
        other = by_key.get(key)
        if other is not None:
            raise ValueError(
                f"devices {other.id} and {device.id} share topic {device.resolved_topic!r}"
            )
        by_key[key] = device

    @property
    def subscriptions(self) -> list[str]:
        """One filter per exact topic and per distinct template subscription."""
        filters = [*self.exact, *(template.subscription for template in self.templates)]
        return list(dict.fromkeys(filters))

    def device_for(self, topic: str) -> MqttDevice | None:
        """The device a message on `topic` is for; an exact topic wins over templates."""
        device = self.exact.get(topic)
        if device is not None:
            return device
        for template, by_key in self.templates.items():
            key = template.key_of(topic)
            if key is not None and key in by_key:
                return by_key[key]
        return None

    def template_of(self, topic: str) -> TopicTemplate | None:
        """The first template `topic` matches (whether or not its key names a device)."""
        return next((t for t in self.templates if t.key_of(topic) is not None), None)

    def __len__(self) -> int:
        return len(self.exact) + sum(len(by_key) for by_key in self.templates.values())
