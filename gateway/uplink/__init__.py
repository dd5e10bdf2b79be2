"""The uplink to the alarm receiving centre: the site's alarm events over SIA DC-09.

- `Uplink`: takes the events a centre cares about from the durable alarm store into its own
  queue on disk, and sends them to the receiver one at a time, fire first, each until
  acknowledged (SIA DC-03 or Contact ID codes, TCP or UDP, optionally AES-encrypted), with
  link tests when idle and the trouble alarm `uplink_down` when the path stays down.

docs/uplink.md says what is sent, how to configure it and what a centre sees.
"""

from gateway.uplink.uplink import Uplink

__all__ = ["Uplink"]
