"""The MQTT topics of one site's alarm feed, in one place for the feed, the CLI and the README."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config import Site


@dataclass(frozen=True, slots=True)
class FeedTopics:
    """Topic names under `<prefix>/<site>/` (see gateway/alarms/README.md)."""

    prefix: str
    site: str

    @classmethod
    def for_site(cls, site: Site) -> FeedTopics:
        """The topics of `site`; the prefix is `mqtt.topic_prefix` (default `firegw`)."""
        mqtt = site.config.mqtt
        prefix = mqtt.topic_prefix if mqtt is not None else "firegw"
        return cls(prefix.rstrip("/"), site.config.site.id)

    @property
    def root(self) -> str:
        return f"{self.prefix}/{self.site}"

    def alarm(self, alarm_id: str) -> str:
        """Retained: the current state of one alarm (empty when the alarm is gone)."""
        return f"{self.root}/alarms/{alarm_id}"

    @property
    def alarms(self) -> str:
        """The filter matching every alarm's retained topic."""
        return f"{self.root}/alarms/+"

    def group(self, group: str) -> str:
        """Retained: the summary of one group of alarms (empty when it has none left)."""
        return f"{self.root}/groups/{group}"

    @property
    def groups(self) -> str:
        """The filter matching every group's retained summary."""
        return f"{self.root}/groups/+"

    @property
    def events(self) -> str:
        """Every alarm event, not retained."""
        return f"{self.root}/events"

    @property
    def status(self) -> str:
        """Retained: whether the gateway is online; the broker sets `offline` (last will)."""
        return f"{self.root}/gateway/status"

    @property
    def commands(self) -> str:
        return f"{self.root}/commands"

    @property
    def replies(self) -> str:
        return f"{self.root}/commands/reply"

    def alarm_id_of(self, topic: str) -> str | None:
        """The alarm id in an alarm topic of this site, or None for any other topic."""
        return self._last_level(topic, f"{self.root}/alarms/")

    def group_of(self, topic: str) -> str | None:
        """The group in a group summary topic of this site, or None for any other topic."""
        return self._last_level(topic, f"{self.root}/groups/")

    @staticmethod
    def _last_level(topic: str, head: str) -> str | None:
        if topic.startswith(head) and "/" not in topic[len(head) :]:
            return topic[len(head) :] or None
        return None
