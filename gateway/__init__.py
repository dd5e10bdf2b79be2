"""The gateway: one site's pieces assembled, from readings in to alarms and history out.

- `gateway.config`: the site file, typed and checked (also what the simulators read).
- `gateway.runtime`: the running gateway: `Gateway`, the hub, the wiring of config to drivers.
- `gateway.alarms`: the rules engine's events stored, published on the MQTT feed, acted on.
- `gateway.outbox`: the durable on-disk outbox and the InfluxDB line encoding.
- `gateway.sinks`: delivery from the outbox to InfluxDB v1 and v2.
- `gateway.health`: device health, delivery health, the gateway's status document, and the
  MQTT payloads the drivers could not use, kept for inspection.
- `Schema`: the layout of one SQLite store and its version, upgraded at start (every store
  of the gateway and of the console has one).

docs/architecture.md has the picture.
"""

from gateway.sqlitefile import Schema

__all__ = ["Schema"]
