"""`firegw report`: the security department's monthly and yearly figures from the history.

Hazards by the department's classes (fire, facility, security), response against the
1/3/5-minute rule, rectification by a person's action, coverage and availability, and the
alarm system's own health (ISA-18.2), as an HTML page with plots and a CSV file per table,
from InfluxDB (1.x, or 2.x through its 1.x query API) or from the gateway's own stores.
docs/report.md has what each figure counts and how the history is stored for it.
"""

from firegw.report.command import add_report_command

__all__ = ["add_report_command"]
