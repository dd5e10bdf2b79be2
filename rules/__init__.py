"""The rules engine: readings and clock ticks in, alarm events out.

A pure core that knows fire safety and nothing about protocols or storage. `RuleEngine` binds
a `RuleSet` (the default table of DESIGN section 4 plus per-kind, per-zone and per-device
overrides) to the site's devices, and owns the alarm lifecycle after ISA-18.2: raise,
acknowledge, return to normal, clear, latch and reset, shelve, out of service, escalate.
"""

from rules.alarm import Alarm, AlarmSource
from rules.clock import Clock, FakeClock, SystemClock
from rules.commands import Action, CommandResult
from rules.defaults import default_table
from rules.engine import RuleEngine
from rules.events import AlarmEvent, EventKind
from rules.model import AlarmClass, AlarmState, DeviceInfo, DeviceKind, Priority
from rules.points import NORMAL, PointRead, Reads, known_states, point_reads
from rules.policies import ChatteringPolicy, EscalationPolicy, ShelvingPolicy
from rules.ruleset import RuleConfigError, RuleSet, default_rules
from rules.specs import (
    BlindSpotRule,
    CoincidenceRule,
    Direction,
    RateRule,
    RuleOverride,
    RuleSpec,
    StateRule,
    SupervisionRule,
    ThresholdRule,
    Trend,
    ValidityRule,
    parse_duration,
)

__all__ = [
    "NORMAL",
    "Action",
    "Alarm",
    "AlarmClass",
    "AlarmEvent",
    "AlarmSource",
    "AlarmState",
    "BlindSpotRule",
    "ChatteringPolicy",
    "Clock",
    "CoincidenceRule",
    "CommandResult",
    "DeviceInfo",
    "DeviceKind",
    "Direction",
    "EscalationPolicy",
    "EventKind",
    "FakeClock",
    "PointRead",
    "Priority",
    "RateRule",
    "Reads",
    "RuleConfigError",
    "RuleEngine",
    "RuleOverride",
    "RuleSet",
    "RuleSpec",
    "ShelvingPolicy",
    "StateRule",
    "SupervisionRule",
    "SystemClock",
    "ThresholdRule",
    "Trend",
    "ValidityRule",
    "default_rules",
    "default_table",
    "known_states",
    "parse_duration",
    "point_reads",
]
