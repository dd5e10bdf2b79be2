"""Can the box be trusted right now? What the site is doing, device by device, and whether
the history reaches the databases, gathered into the gateway's status document.

- `SiteActivity`: a hub subscriber keeping every device's latest values and state changes.
- `HealthBook`: each device ok, degraded, lost or waiting, with its errors by kind.
- `DeliveryHealth`: the outbox and every sink watched like a device, with two trouble alarms.
- `GatewayTroubles`: the stores' files checked, and the gateway's own storage and site-id
  troubles as readings of itself, for the rules to raise.
- `KeepingUp`: the time the gateway itself could not poll (its loop starved), for the
  supervision windows, and its `keeping_up` as a reading of itself.
- `StatusReporter`: the retained status document on the feed, and a summary in the log.
- `RejectedPayloads`: what devices sent that the drivers could not use, kept on disk.
- `MetricsServer`: the status document as Prometheus metrics, and a health check; imported
  when first asked for (aiohttp's server is no use to a gateway run without `--metrics`).
"""

from typing import TYPE_CHECKING

from gateway.health.activity import GroupSummary, SiteActivity, is_normal
from gateway.health.delivery import NEVER_DROP, DeliveryHealth
from gateway.health.devices import HealthBook, count_states
from gateway.health.keeping_up import KeepingUp
from gateway.health.rejected import RejectedEntry, RejectedPayloads, read_rejected
from gateway.health.status import StatusReporter
from gateway.health.troubles import GatewayTroubles

if TYPE_CHECKING:
    from gateway.health.metrics_server import MetricsServer

__all__ = [
    "NEVER_DROP",
    "DeliveryHealth",
    "GatewayTroubles",
    "GroupSummary",
    "HealthBook",
    "KeepingUp",
    "MetricsServer",
    "RejectedEntry",
    "RejectedPayloads",
    "SiteActivity",
    "StatusReporter",
    "count_states",
    "is_normal",
    "read_rejected",
]


def __getattr__(name: str) -> object:
    """`MetricsServer`, imported the first time it is asked for."""
    if name == "MetricsServer":
        from gateway.health.metrics_server import MetricsServer  # noqa: PLC0415

        return MetricsServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
