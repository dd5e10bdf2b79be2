"""Where a site's history is: the InfluxDB connection its `report.history` names (the first
`influxdb:` connection by default), or, for a site without one, the gateway's own stores."""

from __future__ import annotations

from firegw.report.history import STORES, HistoryError, HistorySource
from firegw.report.influx import InfluxHistory, Places
from firegw.report.influxql import InfluxQL
from firegw.report.stores import StoreHistory
from gateway.config import InfluxV1Connection, InfluxV2Connection, Site, redact_url

__all__ = ["STORES", "history_source"]


def history_source(site: Site, choice: str | None = None) -> HistorySource:
    """The source to read: `choice` is `stores`, a connection's name, or None (the site's
    `report.history.connection`, else its first connection, else the stores).

    Raises:
        HistoryError: a connection name the site lacks, or a secret that cannot be read.
    """
    settings = site.config.report.history
    wanted = choice or settings.connection
    connections = site.influx_connections
    if wanted == STORES or (wanted is None and not connections):
        return StoreHistory(site.alarm_store_path, site.outbox_path)
    named = [c for c in connections if wanted is None or c.name == wanted]
    if not named:
        names = ", ".join([STORES, *(c.name for c in connections)])
        raise HistoryError(f"no influxdb connection named {wanted!r}; expected one of {names}")
    return _influx(site, named[0])


def _influx(site: Site, connection: InfluxV1Connection | InfluxV2Connection) -> InfluxHistory:
    settings = site.config.report.history
    try:
        tls = connection.tls.context(site.path.parent) if connection.tls is not None else None
        if isinstance(connection, InfluxV2Connection):
            client = InfluxQL(
                connection.url,
                settings.database or connection.bucket,
                token=connection.token.reveal(),
                tls=tls,
                shown_url=redact_url(connection.url),
            )
            default_policy = None
        else:
            client = InfluxQL(
                connection.url,
                settings.database or connection.database,
                username=connection.username,
                password=connection.password.reveal() if connection.password else None,
                tls=tls,
                shown_url=redact_url(connection.url),
            )
            default_policy = connection.retention_policy
    except LookupError as error:
        raise HistoryError(f"influxdb {connection.name}: {error}") from None
    places = Places(
        events=settings.events or default_policy,
        readings=settings.readings or default_policy,
        downsampled=settings.downsampled,
    )
    return InfluxHistory(client, places)
