"""Topic templates: what is a valid topic, what matches, and which device a topic is for."""

from __future__ import annotations

import pytest
import yaml

from drivers.mqtt import MqttDevice, MqttProfile, topic_problem
from drivers.mqtt.routing import TopicRouter
from drivers.mqtt.topics import TopicTemplate, matches, overlap
from simulators.cameras import publishable
from tests.sites import CONFIG

PROFILES = CONFIG / "profiles"
CAMERA = MqttProfile.model_validate(
    yaml.safe_load((PROFILES / "camera-health.yaml").read_text(encoding="utf-8"))
)


@pytest.mark.parametrize(
    ("topic", "problem"),
    [
        ("st-lukes/nvr/OPD-CAM-01/health", None),
        ("st-lukes/nvr/{device}/health", None),
        ("+/nvr/{device}/#", None),
        ("zigbee2mqtt/{device}", None),
        ("", "a topic cannot be empty"),
        (
            "nvr/+/health",
            "a topic with + or # needs a {device} level to say which device a message is for",
        ),
        ("nvr/{device}/{device}", "{device} may appear only once in a topic"),
        ("nvr/cam-{device}/health", "{device} must be a whole topic level, between two '/'"),
        (
            "nvr/{id}/health",
            "unknown placeholder in level '{id}': the only placeholder is {device}",
        ),
        ("nvr/#/{device}", "# may only be the last level of a topic"),
        ("nvr/{device}/ch+", "+ must be a whole topic level, not part of 'ch+'"),
        ("nvr/{device}/x#", "# must be a whole topic level, not part of 'x#'"),
    ],
)
def test_topic_problems(topic: str, problem: str | None) -> None:
    assert topic_problem(topic) == problem


@pytest.mark.parametrize(
    ("subscription", "topic", "expected"),
    [
        ("nvr/+/health", "nvr/ch07/health", True),
        ("nvr/+/health", "nvr/ch07/status", False),
        ("nvr/+/health", "nvr/ch07/health/extra", False),
        ("nvr/#", "nvr", True),
        ("nvr/#", "nvr/a/b/c", True),
        ("+/+", "a/b", True),
        ("+/+", "a", False),
    ],
)
def test_matches_follows_mqtt_wildcards(subscription: str, topic: str, expected: bool) -> None:
    assert matches(subscription, topic) is expected


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("nvr/+/health", "nvr/ch07/health", True),
        ("nvr/+/health", "nvr/+/status", False),
        ("nvr/+/+", "nvr/+/health", True),
        ("nvr/#", "nvr", True),
        ("nvr/a", "nvr/a/b", False),
        ("+/x/#", "a/+", True),  # both match a/x: "#" matches its parent level too
        ("+/x/#", "a/y", False),
        ("+/x/#", "a/+/b", True),
    ],
)
def test_overlap_is_symmetric(first: str, second: str, expected: bool) -> None:
    assert overlap(first, second) is expected
    assert overlap(second, first) is expected


def test_a_template_finds_the_key_at_its_device_level() -> None:
    template = TopicTemplate("site/+/{device}/health/#")
    assert template.subscription == "site/+/+/health/#"
    assert template.key_of("site/opd/ch07/health") == "ch07"
    assert template.key_of("site/opd/ch07/health/main/stream") == "ch07"
    assert template.key_of("site/opd/ch07/status") is None


def test_the_router_prefers_exact_topics_and_maps_keys() -> None:
    router = TopicRouter(
        [
            MqttDevice("OPD-CAM-01", "nvr/{device}/health", CAMERA),
            MqttDevice("OPD-CAM-07", "nvr/{device}/health", CAMERA, key="ch07"),
            MqttDevice("LOBBY", "nvr/lobby/health", CAMERA),
        ]
    )
    assert router.subscriptions == ["nvr/lobby/health", "nvr/+/health"]
    assert len(router) == 3
    found = {
        t: getattr(router.device_for(t), "id", None)
        for t in (
            "nvr/OPD-CAM-01/health",
            "nvr/ch07/health",
            "nvr/OPD-CAM-07/health",
            "nvr/lobby/health",
            "other/ch07/health",
        )
    }
    assert found == {
        "nvr/OPD-CAM-01/health": "OPD-CAM-01",
        "nvr/ch07/health": "OPD-CAM-07",
        "nvr/OPD-CAM-07/health": None,
        "nvr/lobby/health": "LOBBY",
        "other/ch07/health": None,
    }
    assert router.template_of("nvr/ch99/health") == TopicTemplate("nvr/{device}/health")
    assert router.template_of("other/ch07/health") is None


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("nvr/ch07/health", "nvr/ch07/health"),
        ("+/nvr/ch07/#", "sim/nvr/ch07"),
        ("nvr/ch07/+", "nvr/ch07/sim"),
    ],
)
def test_the_simulator_publishes_on_a_topic_its_filter_matches(topic: str, expected: str) -> None:
    assert publishable(topic) == expected
    assert matches(topic, expected)
