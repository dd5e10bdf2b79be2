"""Load a site file and its profiles, validate everything before any I/O, or say what is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from drivers.modbus import ModbusProfile
from drivers.mqtt import MqttProfile
from gateway.config.checks import check_site
from gateway.config.errors import ConfigError, ConfigIssue
from gateway.config.models import (
    INFLUX_TAGS,
    SOURCE_TAGS,
    InfluxV1Connection,
    InfluxV2Connection,
    SiteConfig,
)
from gateway.config.rulepoints import check_rule_points, without_fire_detection
from gateway.config.site import Profile, Site
from gateway.config.storage import storage_problems
from gateway.config.textfile import file_kind
from gateway.config.tls import TlsFileError, TlsSettings
from gateway.config.uplink import uplink_key_problem
from gateway.config.values import SecretRef
from gateway.config.wording import place_errors
from gateway.config.yamlsource import Path_, YamlDocument, read_yaml

_PROFILE = TypeAdapter[ModbusProfile | MqttProfile](Profile)
_PROFILE_TAGS = frozenset({"modbus", "mqtt"})


def load_site(path: str | Path, *, storage_and_secrets: bool = True) -> Site:
    """Read and check a site file; raises `ConfigError` listing every problem found.

    With `storage_and_secrets` (what `firegw check` and `firegw run` do) it also checks this
    machine: that the outbox and the files beside it can be written where the site says, and
    that every secret can be read and used (`gateway.config.secretsource`). The commands
    people run from their own accounts (`status`, `alarms`, `ack`, ...) need neither.

    Warnings (things that look wrong but may be meant) do not stop it: they are in
    `Site.warnings`, for `firegw check` to print and the gateway to log.
    """
    file = Path(path)
    document = read_yaml(file)
    config = _validate(document)
    profiles, documents, issues = _load_profiles(document, config)
    warnings: list[ConfigIssue] = []
    if not issues:  # an unreadable profile would make every device using it an error too
        issues = [document.issue(where, message) for where, message in check_site(config, profiles)]
        rule_errors, warnings = check_rule_points(config, profiles, documents)
        issues += rule_errors
        warnings += _fire_detection_warnings(document, config)
    site = Site(file, config, profiles)
    if storage_and_secrets:
        issues += [
            document.issue(("outbox", "path"), p) for p in storage_problems(site.outbox_path)
        ]
        for where, secret in _secrets(config):
            issues += _secret_issues(document, where, secret, warnings)
        if (key_problem := uplink_key_problem(config.uplink)) is not None:
            issues.append(document.issue(("uplink", "key"), key_problem))
        issues += [
            document.issue(where, problem) for where, problem in _tls_problems(config, file.parent)
        ]
    if issues:
        raise ConfigError(issues)
    return Site(file, config, profiles, tuple(sorted(warnings, key=_in_file_order)))


def _fire_detection_warnings(document: YamlDocument, config: SiteConfig) -> list[ConfigIssue]:
    """Detectors left without fire detection by `rules:` (every fire rule switched off)."""
    devices = without_fire_detection(config)
    if not devices:
        return []
    shown = ", ".join(devices[:5]) + (f" and {len(devices) - 5} more" if len(devices) > 5 else "")
    message = (
        f"no fire rule is on for {shown}: they report no fire at all; to work on a "
        "detector, take it out of service instead (it ends by itself and shows on the feed)"
    )
    return [document.issue(("rules",), message, warning=True)]


def _in_file_order(issue: ConfigIssue) -> tuple[str, int]:
    return str(issue.file), issue.line or 0


def _validate(document: YamlDocument) -> SiteConfig:
    try:
        return SiteConfig.model_validate(document.data, context={"folder": document.file.parent})
    except ValidationError as error:
        raise ConfigError(place_errors(document, error, SOURCE_TAGS | INFLUX_TAGS)) from None


def _influx_connections(
    config: SiteConfig,
) -> Iterator[tuple[Path_, InfluxV1Connection | InfluxV2Connection]]:
    """Every `influxdb:` connection, with where it is written (one, or a list)."""
    influxdb = config.influxdb
    if isinstance(influxdb, tuple):
        for index, connection in enumerate(influxdb):
            yield ("influxdb", index), connection
    elif influxdb is not None:
        yield ("influxdb",), influxdb


def _tls_problems(config: SiteConfig, folder: Path) -> Iterator[tuple[Path_, str]]:
    """Every `tls:` whose files cannot be used, loaded as the gateway will load them."""
    settings: list[tuple[Path_, TlsSettings | None]] = [
        (("mqtt", "tls"), config.mqtt.tls if config.mqtt is not None else None)
    ]
    settings += [((*here, "tls"), c.tls) for here, c in _influx_connections(config)]
    settings.append((("uplink", "tls"), config.uplink.tls if config.uplink is not None else None))
    for where, tls in settings:
        if tls is None:
            continue
        try:
            tls.context(folder)
        except TlsFileError as error:
            yield (*where, error.setting), error.detail


def _secrets(config: SiteConfig) -> Iterator[tuple[Path_, SecretRef]]:
    """Every secret the site refers to, with where it is written."""
    if config.mqtt is not None and config.mqtt.password is not None:
        yield ("mqtt", "password"), config.mqtt.password
    for here, connection in _influx_connections(config):
        secret = connection.token if connection.api == "v2" else connection.password
        if secret is not None:
            yield (*here, "token" if connection.api == "v2" else "password"), secret
    for index, operator in enumerate(config.operators):
        yield ("operators", index, "key"), operator.key
    if config.uplink is not None and config.uplink.key is not None:
        yield ("uplink", "key"), config.uplink.key


def _secret_issues(
    document: YamlDocument, where: Path_, secret: SecretRef, warnings: list[ConfigIssue]
) -> list[ConfigIssue]:
    """The secret's problem as an error (read as the gateway will read it), its exposure as
    a warning."""
    try:
        secret.reveal()
    except LookupError as error:
        return [document.issue(where, str(error))]
    warning = secret.warning()
    if warning is not None:
        warnings.append(document.issue(where, warning, warning=True))
    return []


Profiles = dict[str, ModbusProfile | MqttProfile]


def _load_profiles(
    document: YamlDocument, config: SiteConfig
) -> tuple[Profiles, dict[str, YamlDocument], list[ConfigIssue]]:
    """Every profile by id, with the YAML it came from (for the lines of later checks)."""
    profiles: Profiles = {}
    documents: dict[str, YamlDocument] = {}
    issues: list[ConfigIssue] = []
    for index, entry in enumerate(config.profiles):
        kind = file_kind(document.file.parent / entry)
        if kind is not None and kind != "a folder":
            issues.append(document.issue(("profiles", index), f"{str(entry)!r} is {kind}"))
            continue
        for file in _profile_files(document.file.parent / entry):
            try:
                profile, profile_document = _read_profile(file)
            except ConfigError as error:
                issues += error.issues
                continue
            if profile.id in profiles:
                issues.append(
                    document.issue(
                        ("profiles", index),
                        f"profile id {profile.id!r} in {file.name} is defined twice",
                    )
                )
            profiles[profile.id], documents[profile.id] = profile, profile_document
        if not (document.file.parent / entry).exists():
            issues.append(
                document.issue(("profiles", index), f"no such file or folder {str(entry)!r}")
            )
    return profiles, documents, issues


def _profile_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
    return [path] if path.exists() else []


def _read_profile(file: Path) -> tuple[ModbusProfile | MqttProfile, YamlDocument]:
    document = read_yaml(file)
    try:
        return _PROFILE.validate_python(document.data), document
    except ValidationError as error:
        raise ConfigError(place_errors(document, error, _PROFILE_TAGS)) from None
