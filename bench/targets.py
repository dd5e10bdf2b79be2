"""The targets every benchmark figure is checked against, in one place.

They are the table of docs/architecture.md ("Targets"); change both together.
"""

IN_GATEWAY_P99_S = 0.010
"""Reading in -> alarm on the broker, inside the gateway, p99 at 1x and 10x."""
END_TO_END_MARGIN_S = 0.050
"""State change on a simulator -> alarm on the broker, p99: the poll interval plus this."""
THROUGHPUT_PER_CPU_S = 100_000.0
"""Readings per second through rules and outbox, on one core."""
MODBUS_REGISTER_RATIO = 1.0
"""Registers per second against a bare pymodbus loop: at least as many."""
MODBUS_REQUESTS_PER_S = 100
"""Requests per second the reference site needs: a few dozen."""
CPU_PERCENT_1X = 3.0
"""Percent of one core at reference-site scale, 1 s polling."""
RSS_MB_1X = 48.0
"""Peak resident memory at reference-site scale."""
STARTUP_S = 1.0
"""Start-up to the first reading stored."""
STOP_S = 2.0
"""SIGTERM to exit, with the outbox flushed."""
DRAIN_POINTS_PER_S = 100_000.0
"""Points per second drained to the database after an outage."""
UPLINK_P99_S = 2.0
"""A detector's fire on the simulator -> the monitoring centre's receiver (SIA DC-09), p99."""
DISK_BYTES_PER_READING_1X = 76.0
"""Bytes the gateway writes to disk per reading stored, at reference-site scale with the
database healthy: a tenth of the 760 of the outbox of one row per line."""
DISK_KB_PER_S_1X = 40.0
"""Kilobytes a second the gateway writes to disk at reference-site scale (an SD card's life)."""
OUTBOX_BYTES_PER_BUFFERED_READING = 34.0
"""Bytes of outbox file per reading buffered during an outage: a quarter of 136."""
ENDPOINTS_CPU_PERCENT_1X = 5.0
"""Percent of one core with one Modbus endpoint per device, reference site, 1 s polling."""
ENDPOINTS_CPU_PERCENT_10X = 30.0
"""The same at 10x (1,550 endpoints)."""
ENDPOINTS_CPU_PER_REQUEST_RATIO = 1.5
"""CPU per request against a bare pymodbus loop on the same simulators: at most this."""
ENDPOINTS_RSS_MB_10X = 80.0
"""Resident memory at 10x with one endpoint per device."""
ENDPOINTS_RSS_DRIFT_MB_PER_MIN = 1.0
"""RSS drift over the window (a straight line fitted): flat, under this."""
ENDPOINTS_FIRST_READING_10X_S = 2.0
"""Start-up to the first reading stored at 10x with one endpoint per device."""
