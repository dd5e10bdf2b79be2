"""The rules engine: readings and clock ticks in, alarm events out.

A pure core that knows fire safety and nothing about protocols or storage. `RuleEngine` binds
a `RuleSet` (the default table of rules/README.md plus per-kind, per-zone and per-device
overrides) to the site's devices, and owns the alarm lifecycle after ISA-18.2: raise,
acknowledge, return to normal, clear, latch and reset, shelve, out of service, escalate.
"""

from rules.alarm import Alarm
from rules.clock import Clock
from rules.commands import Action, CommandResult
from rules.engine import RuleEngine
from rules.events import AlarmEvent, EventKind
from rules.kpis import AlarmLoad, AlarmLoadSummary
from rules.model import AlarmClass, AlarmState, DeviceInfo, DeviceKind, Priority
from rules.points import PointRead, Reads, known_states, point_reads
from rules.ruleset import RuleSet
from rules.specs import parse_duration

__all__ = [
    "Action",
    "Alarm",
    "AlarmClass",
    "AlarmEvent",
    "AlarmLoad",
    "AlarmLoadSummary",
    "AlarmState",
    "Clock",
    "CommandResult",
    "DeviceInfo",
    "DeviceKind",
    "EventKind",
    "PointRead",
    "Priority",
    "Reads",
    "RuleEngine",
    "RuleSet",
    "known_states",
    "parse_duration",
    "point_reads",
]
