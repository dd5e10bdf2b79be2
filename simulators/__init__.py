"""Simulated field devices speaking the real protocols: Modbus TCP servers, an MQTT camera
fleet, a JSON-lines control server and a scenario player, all built from a site config."""

from simulators.cameras import CameraFleet, health_document
from simulators.control import ControlClient, ControlError, ControlServer, request_once
from simulators.devices import DeviceFleet, SimulatedDevice
from simulators.faults import FAULT_ARGS, Fault, FaultError, LinkFault
from simulators.modbus_server import ModbusEndpointServer
from simulators.registers import EncodeError, encode
from simulators.scenario import Scenario, ScenarioError, Step, load_scenario, play
from simulators.site import DEFAULT_CONTROL_PORT, SimulatedSite, run_simulators, serial_ports_for

__all__ = [
    "DEFAULT_CONTROL_PORT",
    "FAULT_ARGS",
    "CameraFleet",
    "ControlClient",
    "ControlError",
    "ControlServer",
    "DeviceFleet",
    "EncodeError",
    "Fault",
    "FaultError",
    "LinkFault",
    "ModbusEndpointServer",
    "Scenario",
    "ScenarioError",
    "SimulatedDevice",
    "SimulatedSite",
    "Step",
    "encode",
    "health_document",
    "load_scenario",
    "play",
    "request_once",
    "run_simulators",
    "serial_ports_for",
]
