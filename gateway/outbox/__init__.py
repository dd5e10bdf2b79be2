"""The durable outbox: readings wait on disk here until every sink has delivered them.

A line is *accepted* once `Outbox.append` returns: it is committed to SQLite and survives a
crash or a kill of the gateway. Each sink reads through its own `OutboxReader`, from its own
position, and moves that position on only after its server acknowledged the lines; a line
leaves the outbox once every sink has passed it (delivered, or set aside in the `dead_letter`
table with the reason), or when the outbox is full and it is among the oldest readings.

`OutboxWriter` sits in front of the outbox and batches single lines into large transactions;
`ReadingRecorder` (a hub subscriber) feeds it every reading as an InfluxDB line
(`lineprotocol`).
"""

from gateway.outbox.recorder import ReadingRecorder
from gateway.outbox.store import Outbox, OutboxReader, Rows, read_lines
from gateway.outbox.writer import OutboxWriter

__all__ = [
    "Outbox",
    "OutboxReader",
    "OutboxWriter",
    "ReadingRecorder",
    "Rows",
    "read_lines",
]
