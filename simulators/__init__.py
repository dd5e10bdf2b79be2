"""Simulated field devices speaking the real protocols: Modbus TCP servers, an MQTT camera
fleet, a JSON-lines control server and a scenario player, all built from a site config."""

from simulators.scenario import load_scenario
from simulators.site import SimulatedSite, run_simulators, serial_ports_for

__all__ = [
    "SimulatedSite",
    "load_scenario",
    "run_simulators",
    "serial_ports_for",
]
