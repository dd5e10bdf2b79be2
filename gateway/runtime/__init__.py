"""The running gateway: its parts assembled from the site config, every task supervised.

`Gateway` owns the outbox, the alarm store and feed, the drivers, the sinks and the health
reports; the `Hub` fans each batch of readings out to the alarm service, the site's activity
and the outbox; `wiring` turns the site config into the drivers' and sinks' own specs;
`ServiceManager` tells systemd when the gateway is ready, well (its watchdog) and stopping.
"""

from gateway.runtime.gateway import Gateway
from gateway.runtime.systemd import ServiceManager

__all__ = ["Gateway", "ServiceManager"]
