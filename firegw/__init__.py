"""The `firegw` command: check, run, simulate, the demo, and the operator's views of a site.

Nothing here runs in the gateway itself: the commands assemble the running gateway
(`gateway.runtime`) or the simulators, or read what a running gateway publishes on its broker
(alarms, status) and keeps on disk (rejected payloads).
"""
