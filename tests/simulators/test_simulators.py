"""The simulators over real sockets: pymodbus and mbpoll as masters, a real Mosquitto.

Register values are checked against the simulated state through the profile by hand (status
code in the low byte, obscuration in 0.01 %/m, temperature in 0.1 °C, loop current in µA), not
through the gateway's decoder, so these tests pin the wire format on their own.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from drivers.mqtt.profile import MqttProfile
from gateway.config import ModbusSource, Site, load_site
from simulators import SimulatedSite, load_scenario
from simulators.cameras import health_document
from simulators.control import ControlClient, request_once
from simulators.devices import DeviceFleet, floor_of
from simulators.faults import FaultError
from simulators.scenario import Scenario, ScenarioError, Step, play
from tests.servers import MosquittoServer, free_port
from tests.sites import CONFIG, clinic_site, eventually

MBPOLL = "/usr/bin/mbpoll"


def clinic(folder: Path, mqtt_port: int, topic_root: str = "demo") -> Site:
    """The demo clinic on free ports; cameras publish every 300 ms under `topic_root`."""
    path = clinic_site(folder, mqtt_port=mqtt_port)
    text = path.read_text().replace("poll_interval: 2s", "poll_interval: 300ms")
    path.write_text(text.replace("topic: demo/nvr/", f"topic: {topic_root}/nvr/"))
    return load_site(path)


def port_of(site: Site, endpoint: str) -> int:
    return next(e.port for e in site.config.modbus.endpoints if e.id == endpoint)


@pytest.fixture
def site(tmp_path: Path, mosquitto: MosquittoServer) -> Site:
    return clinic(tmp_path, mosquitto.port)


@pytest.fixture
async def simulated(site: Site) -> AsyncIterator[SimulatedSite]:
    async with SimulatedSite(site, seed=11, control_port=0) as running:
        yield running


@pytest.fixture
async def panel(site: Site, simulated: SimulatedSite) -> AsyncIterator[AsyncModbusTcpClient]:
    async with AsyncModbusTcpClient(
        "127.0.0.1", port=port_of(site, "main-panel"), timeout=0.5, retries=0
    ) as client:
        yield client


async def registers(client: AsyncModbusTcpClient, address: int, count: int) -> list[int]:
    response = await client.read_input_registers(address, count=count, device_id=1)
    assert not response.isError(), response
    return list(response.registers)


def signed(word: int) -> int:
    return word - 0x10000 if word & 0x8000 else word


# --- Modbus, read by pymodbus ---------------------------------------------------------------


async def test_detector_registers_carry_the_simulated_state(
    simulated: SimulatedSite, panel: AsyncModbusTcpClient
) -> None:
    words = await registers(panel, 4, 3)  # SD-1F-02's block starts at 4
    values = simulated.state("SD-1F-02")["values"]
    assert words[0] & 0xFF == 0  # normal
    assert 1 <= words[1] <= 40  # 0.01-0.40 %/m
    assert abs(words[1] * 0.01 - values["obscuration"]) < 0.05
    assert 180 <= signed(words[2]) <= 260
    assert abs(signed(words[2]) * 0.1 - values["temperature"]) < 0.5


async def test_hydrant_loop_current_is_served_in_microamps(
    site: Site, simulated: SimulatedSite
) -> None:
    async with AsyncModbusTcpClient(
        "127.0.0.1", port=port_of(site, "main-io"), timeout=0.5, retries=0
    ) as client:
        words = await registers(client, 0, 3)
    # static 0.35-0.45 MPa on a 0-1.6 MPa transmitter: 7.5-8.5 mA, plus noise
    assert all(7400 <= word <= 8700 for word in words), words
    pressure = simulated.state("HP-2F-01")["values"]["pressure"]
    assert abs((words[1] / 1000 - 4) / 16 * 1.6 - pressure) < 0.01


async def test_a_fire_from_the_control_client_sets_status_code_2_and_clear_resets_it(
    simulated: SimulatedSite, panel: AsyncModbusTcpClient
) -> None:
    control = ControlClient("127.0.0.1", simulated.control_port or 0)
    assert await control.send("fire", "SD-1F-02") == {"ok": True}
    words = await registers(panel, 0, 8)
    assert words[4] & 0xFF == 2
    assert words[5] >= 320  # fire: obscuration above 3.2 %/m
    assert words[0] & 0xFF == 0  # the neighbour is still normal
    state = await control.state("SD-1F-02")
    assert state["values"]["status"] == "fire"

    await eventually(
        lambda: simulated.state("SD-1F-02")["values"]["obscuration"] > 3.6,
        within=20,
        what="smoke thickening",
    )
    assert await control.send("clear", "SD-1F-02") == {"ok": True}
    words = await registers(panel, 4, 3)
    assert words[0] & 0xFF == 0
    assert words[1] <= 40


@pytest.mark.parametrize(("args", "code"), [({}, 4), ({"code": 2}, 2), ({"code": 11}, 11)])
async def test_exception_fault_answers_with_an_exception_while_a_neighbour_answers(
    simulated: SimulatedSite, panel: AsyncModbusTcpClient, args: dict[str, int], code: int
) -> None:
    await simulated.apply("exception", "SD-1F-02", **args)
    response = await panel.read_input_registers(4, count=3, device_id=1)
    assert response.isError()
    assert response.exception_code == code
    spanning = await panel.read_input_registers(0, count=8, device_id=1)
    assert spanning.exception_code == code  # a read touching the faulted device fails whole
    assert (await registers(panel, 0, 3))[0] & 0xFF == 0
    assert (await registers(panel, 8, 3))[0] & 0xFF == 0


async def test_silent_fault_times_out_and_the_connection_still_serves_others(
    simulated: SimulatedSite, panel: AsyncModbusTcpClient
) -> None:
    await simulated.apply("silent", "SD-1F-02")
    started = time.monotonic()
    with pytest.raises(ModbusIOException):
        await panel.read_input_registers(4, count=3, device_id=1)
    assert time.monotonic() - started >= 0.4
    assert (await registers(panel, 0, 3))[0] & 0xFF == 0
    await simulated.apply("clear", "SD-1F-02")
    assert (await registers(panel, 4, 3))[0] & 0xFF == 0


async def test_reads_outside_the_blocks_and_of_unknown_units_are_exceptions(
    panel: AsyncModbusTcpClient,
) -> None:
    beyond = await panel.read_input_registers(18, count=2, device_id=1)
    assert beyond.exception_code == 2
    holding = await panel.read_holding_registers(0, count=1, device_id=1)
    assert holding.exception_code == 2
    unknown = await panel.read_input_registers(0, count=3, device_id=9)
    assert unknown.exception_code == 2


# --- Modbus, read by mbpoll, an independent master ------------------------------------------


async def mbpoll(port: int, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        MBPOLL,
        "-m",
        "tcp",
        "-a",
        "1",
        "-p",
        str(port),
        "-o",
        "0.5",
        *args,
        "127.0.0.1",
        "-1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=20)
    return process.returncode or 0, output.decode()


def polled(output: str) -> dict[int, int]:
    return {
        int(ref): int(value)
        for ref, value in re.findall(r"^\[(\d+)\]:\s+(-?\d+)", output, re.MULTILINE)
    }


async def test_mbpoll_reads_the_detector_and_hydrant_registers(
    site: Site, simulated: SimulatedSite
) -> None:
    code, output = await mbpoll(port_of(site, "main-panel"), "-r", "1", "-c", "3", "-t", "3")
    assert code == 0, output
    detector = polled(output)
    assert sorted(detector) == [1, 2, 3]
    assert detector[1] == 0
    assert abs(detector[2] * 0.01 - simulated.state("SD-1F-01")["values"]["obscuration"]) < 0.05
    assert 180 <= detector[3] <= 260

    await simulated.apply("fire", "SD-1F-01")
    code, output = await mbpoll(port_of(site, "main-panel"), "-r", "1", "-c", "1", "-t", "3")
    assert polled(output) == {1: 2}

    code, output = await mbpoll(port_of(site, "main-io"), "-0", "-r", "0", "-c", "3", "-t", "3")
    assert code == 0, output
    assert all(7400 <= value <= 8700 for value in polled(output).values()), output


async def test_mbpoll_sees_the_exception_and_the_silence(
    site: Site, simulated: SimulatedSite
) -> None:
    port = port_of(site, "main-panel")
    await simulated.apply("exception", "SD-1F-01")
    code, output = await mbpoll(port, "-r", "1", "-c", "3", "-t", "3")
    assert code != 0
    assert "Slave device or server failure" in output
    await simulated.apply("silent", "SD-1F-01")
    code, output = await mbpoll(port, "-r", "1", "-c", "3", "-t", "3")
    assert code != 0
    assert "timed out" in output


# --- the camera fleet, through a real Mosquitto ----------------------------------------------


def strict_json_object(payload: bytes, limit: int = 16384) -> dict[str, Any] | None:
    """The payload as a JSON object a strict consumer accepts, else None."""

    def no_constants(name: str) -> Any:
        raise ValueError(name)

    if len(payload) > limit:
        return None
    try:
        document = json.loads(payload, parse_constant=no_constants)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


class Recorder:
    """Every message a subscriber gets, with its arrival time, recorded by a background task."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.messages: list[tuple[float, str, bytes]] = []

    async def run(self) -> None:
        async for message in self.client.messages:
            payload = message.payload
            assert isinstance(payload, bytes)
            self.messages.append((time.monotonic(), message.topic.value, payload))

    def since(self, start: float, topic: str | None = None) -> list[bytes]:
        return [
            payload
            for at, name, payload in self.messages
            if at >= start and (topic is None or name == topic)
        ]

    async def wait(self, count: int, start: float, topic: str | None = None) -> list[bytes]:
        await eventually(
            lambda: len(self.since(start, topic)) >= count,
            within=15,
            what=f"{count} messages on {topic or 'any topic'}",
        )
        return self.since(start, topic)


@pytest.fixture
async def recorder(mosquitto: MosquittoServer) -> AsyncIterator[Recorder]:
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
        recording = Recorder(client)
        task = asyncio.create_task(recording.run())
        yield recording
        task.cancel()


async def test_cameras_publish_their_health_json(
    tmp_path: Path, mosquitto: MosquittoServer, recorder: Recorder
) -> None:
    site = clinic(tmp_path, mosquitto.port, topic_root="cams-ok")
    await recorder.client.subscribe("cams-ok/nvr/+/health", qos=1)
    async with SimulatedSite(site, seed=5):
        await recorder.wait(6, 0.0)
    seen = {
        topic.split("/")[2]: strict_json_object(payload) for _, topic, payload in recorder.messages
    }
    assert sorted(seen) == ["CAM-1F-01", "CAM-2F-01", "CAM-B1-01"]
    for document in seen.values():
        assert document is not None
        assert document["online"] is True
        assert document["recording"] is True
        assert 24.0 < document["stream"]["fps"] <= 25.0
        assert 3500 < document["stream"]["bitrate_kbps"] < 4700
        assert document["storage"]["retention_days"] in (92, 93, 94)
        assert document["tamper"] is False
        assert document["video_loss"] is False
        assert 30 < document["temperature"] < 46


async def test_a_garbage_camera_cycles_through_four_kinds_of_bad_payload(
    tmp_path: Path, mosquitto: MosquittoServer, recorder: Recorder
) -> None:
    site = clinic(tmp_path, mosquitto.port, topic_root="cams-junk")
    topic = "cams-junk/nvr/CAM-1F-01/health"
    await recorder.client.subscribe("cams-junk/nvr/+/health", qos=1)
    async with SimulatedSite(site, seed=5) as simulated:
        await recorder.wait(1, 0.0, topic)
        applied = time.monotonic()
        await simulated.apply("garbage", "CAM-1F-01")
        payloads = await recorder.wait(6, applied, topic)
    first_bad = next(i for i, payload in enumerate(payloads) if not strict_json_object(payload))
    assert first_bad <= 1  # at most one good one was on its way when the fault came
    garbage = payloads[first_bad : first_bad + 4]
    assert all(strict_json_object(payload) is None for payload in payloads[first_bad:])
    assert {b'{"online": tru', b"[1, 2, 3]", b'{"fps": NaN}'} < set(garbage)
    assert any(len(payload) > 16384 for payload in garbage)


async def test_a_silent_camera_stops_and_an_offline_one_says_so(
    tmp_path: Path, mosquitto: MosquittoServer, recorder: Recorder
) -> None:
    site = clinic(tmp_path, mosquitto.port, topic_root="cams-quiet")
    silent, offline = "cams-quiet/nvr/CAM-1F-01/health", "cams-quiet/nvr/CAM-2F-01/health"
    await recorder.client.subscribe("cams-quiet/nvr/+/health", qos=1)
    async with SimulatedSite(site, seed=5) as simulated:
        await recorder.wait(1, 0.0, silent)
        await simulated.apply("silent", "CAM-1F-01")
        await simulated.apply("camera_offline", "CAM-2F-01")
        quiet_from = time.monotonic() + 0.2  # a message already on its way may still land
        await asyncio.sleep(1.5)
        assert recorder.since(quiet_from, silent) == []
        assert len(recorder.since(quiet_from, "cams-quiet/nvr/CAM-B1-01/health")) >= 2
        document = strict_json_object(recorder.since(quiet_from, offline)[-1])
    assert document is not None
    assert (document["online"], document["recording"]) == (False, False)
    assert document["stream"] == {"fps": 0.0, "bitrate_kbps": 0.0}


async def test_the_camera_fleet_reconnects_when_the_broker_comes_back(
    tmp_path: Path, mosquitto_factory: Any
) -> None:
    broker = mosquitto_factory()
    site = clinic(tmp_path, broker.port, topic_root="cams-back")
    async with SimulatedSite(site, seed=5):
        await asyncio.sleep(0.5)
        broker.stop()
        await asyncio.sleep(1.0)
        broker.start()
        async with aiomqtt.Client(broker.host, broker.port) as client:
            recording = Recorder(client)
            await client.subscribe("cams-back/nvr/+/health", qos=1)
            task = asyncio.create_task(recording.run())
            payloads = await recording.wait(3, 0.0)
            task.cancel()
    assert all(strict_json_object(payload) for payload in payloads)


# --- the control interface ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "reply"),
    [
        pytest.param(
            {"fault": "fire", "device": "X"},
            {"ok": False, "error": "unknown device 'X'"},
            id="unknown-device",
        ),
        pytest.param(
            {"fault": "blaze", "device": "SD-1F-01"},
            {"ok": False, "error": "unknown fault 'blaze'"},
            id="unknown-fault",
        ),
        pytest.param(
            {"fault": "fire", "device": "HP-1F-01"},
            {"ok": False, "error": "fault fire does not apply to hydrant_pressure 'HP-1F-01'"},
            id="wrong-kind",
        ),
        pytest.param(
            {"fault": "garbage", "device": "SD-1F-01"},
            {"ok": False, "error": "fault garbage does not apply to smoke_detector 'SD-1F-01'"},
            id="garbage-on-modbus",
        ),
        pytest.param(
            {"fault": "exception", "device": "CAM-1F-01"},
            {"ok": False, "error": "fault exception does not apply to camera 'CAM-1F-01'"},
            id="exception-on-mqtt",
        ),
        pytest.param(
            {"fault": "fire", "device": "SD-1F-01", "to": 3},
            {"ok": False, "error": "fault fire takes no argument 'to'"},
            id="extra-arg",
        ),
        pytest.param(
            {"fault": "pressure_drop", "device": "HP-1F-01", "to": "low"},
            {"ok": False, "error": "fault pressure_drop argument 'to' must be a number, got 'low'"},
            id="bad-arg",
        ),
        pytest.param(
            {"fault": "exception", "device": "SD-1F-01", "code": 9},
            {"ok": False, "error": "exception code 9 is not a Modbus exception code"},
            id="bad-code",
        ),
        pytest.param({"get": "X"}, {"ok": False, "error": "unknown device 'X'"}, id="get-unknown"),
        pytest.param(
            {"fault": "fire"},
            {"ok": False, "error": 'expected {"fault": F, "device": D, ...} or {"get": D}'},
            id="no-device",
        ),
        pytest.param(
            [1],
            {"ok": False, "error": 'expected {"fault": F, "device": D, ...} or {"get": D}'},
            id="not-an-object",
        ),
        pytest.param(
            {"fault": "pressure_drop", "device": "HP-1F-01", "to": 0.05, "rate": 6},
            {"ok": True},
            id="pressure-drop",
        ),
    ],
)
async def test_control_replies(
    simulated: SimulatedSite, request_: Any, reply: dict[str, Any]
) -> None:
    control = ControlClient("127.0.0.1", simulated.control_port or 0)
    assert await control.request(request_) == reply


async def test_control_state_and_the_one_shot_sync_client(simulated: SimulatedSite) -> None:
    port = simulated.control_port or 0
    state = await ControlClient("127.0.0.1", port).state("HP-1F-01")
    assert state["kind"] == "hydrant_pressure"
    assert state["link_fault"] is None
    assert 0.34 <= state["values"]["pressure"] <= 0.46

    reply = await asyncio.to_thread(
        request_once, port, {"fault": "sensor_fault", "device": "HP-1F-01", "ma": 22}
    )
    assert reply == {"ok": True}
    state = await ControlClient("127.0.0.1", port).state("HP-1F-01")
    assert state["values"]["loop_current"] == 22.0
    assert state["sensor_fault_ma"] == 22.0
    text = await asyncio.to_thread(request_once, port, {"get": "nope"})
    assert text == {"ok": False, "error": "unknown device 'nope'"}


async def test_bad_json_gets_an_error_reply_and_the_connection_goes_on(
    simulated: SimulatedSite,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", simulated.control_port)
    writer.write(b"{not json\n" + b'{"fault": "isolate", "device": "SD-2F-01"}\n')
    first, second = json.loads(await reader.readline()), json.loads(await reader.readline())
    writer.close()
    assert first["ok"] is False
    assert first["error"].startswith("not JSON: ")
    assert second == {"ok": True}
    assert simulated.state("SD-2F-01")["values"]["status"] == "isolated"


# --- scenarios ------------------------------------------------------------------------------


async def test_the_player_applies_steps_at_their_times() -> None:
    applied: list[tuple[float, str, str, dict[str, Any]]] = []

    async def record(fault: str, device: str, **args: Any) -> None:
        applied.append((time.monotonic() - start, fault, device, args))

    scenario = Scenario(
        steps=(
            Step(at=0.6, fault="fire", device="SD-1F-02"),  # type: ignore[arg-type]
            Step(at=0.2, fault="pressure_drop", device="HP-1F-01", to=0.1, rate=6),  # type: ignore[arg-type]
            Step(at=0.6, fault="fire", device="SD-1F-01"),  # type: ignore[arg-type]
        )
    )
    start = time.monotonic()
    await play(scenario, record)
    assert [(fault, device, args) for _, fault, device, args in applied] == [
        ("pressure_drop", "HP-1F-01", {"to": 0.1, "rate": 6.0}),
        ("fire", "SD-1F-02", {}),
        ("fire", "SD-1F-01", {}),
    ]
    for (at, *_), wanted in zip(applied, (0.2, 0.6, 0.6), strict=True):
        assert wanted <= at < wanted + 0.15


async def test_a_scenario_plays_on_the_simulated_site(site: Site, tmp_path: Path) -> None:
    file = tmp_path / "scenario.yaml"
    file.write_text(
        "steps:\n  - {at: 1s, fault: fire, device: SD-1F-01}\n"
        "  - {at: 1500ms, fault: pressure_drop, device: HP-1F-01, to: 0.1, rate: 60}\n"
    )
    scenario = load_scenario(file, site)
    async with SimulatedSite(site, scenario=scenario) as simulated:
        started = time.monotonic()
        async with AsyncModbusTcpClient("127.0.0.1", port=port_of(site, "main-panel")) as client:
            assert (await registers(client, 0, 1))[0] == 0
            await eventually(
                lambda: simulated.state("SD-1F-01")["values"]["status"] == "fire",
                within=20,
                what="the fire step",
            )
            assert time.monotonic() - started >= 1.0
            assert (await registers(client, 0, 1))[0] == 2
        await eventually(
            lambda: simulated.state("HP-1F-01")["values"]["pressure"] < 0.12,
            within=20,
            what="the pressure drop step",
        )


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        pytest.param(
            "  - {at: 1s, fault: fire, device: SD-9}\n",
            "s.yaml:2: steps[0].device: unknown device 'SD-9'",
            id="unknown-device",
        ),
        pytest.param(
            "  - {at: 1s, fault: fire, device: SD-1F-01}\n"
            "  - {at: 2s, fault: tamper, device: SD-1F-01}\n",
            "s.yaml:3: steps[1]: fault tamper does not apply to smoke_detector 'SD-1F-01'",
            id="wrong-kind",
        ),
        pytest.param(
            "  - {at: soon, fault: fire, device: SD-1F-01}\n",
            "s.yaml:2: steps[0].at: expected a time such as 5s or 500ms, got 'soon'",
            id="bad-time",
        ),
        pytest.param(
            "  - {at: 1s, fault: fire, device: SD-1F-01, colour: red}\n",
            "s.yaml:2: steps[0].colour: unknown key",
            id="unknown-key",
        ),
        pytest.param(
            "  - {at: 1s, fault: fire, device: SD-1F-01, rate: 2}\n",
            "s.yaml:2: steps[0]: fault fire takes no argument 'rate'",
            id="extra-arg",
        ),
    ],
)
def test_scenario_errors_name_the_step(
    site: Site, tmp_path: Path, steps: str, message: str
) -> None:
    file = tmp_path / "s.yaml"
    file.write_text("steps:\n" + steps)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(file, site)
    assert str(caught.value) == message


def test_the_demo_scenario_fits_the_reference_site() -> None:
    hospital = load_site(CONFIG / "hospital.yaml")
    scenario = load_scenario(CONFIG / "scenarios" / "demo.yaml", hospital)
    assert [(s.at, s.fault) for s in scenario.timeline] == [
        (10.0, "detector_fault"),
        (20.0, "pressure_drop"),
        (30.0, "camera_offline"),
        (45.0, "fire"),
        (50.0, "fire"),
    ]
    fires = [hospital.devices[s.device].zone for s in scenario.steps if s.fault == "fire"]
    assert len(fires) == 2
    assert fires[0] == fires[1]


# --- the whole site, start and stop ----------------------------------------------------------


def hospital(folder: Path, mqtt_port: int) -> Site:
    text = (CONFIG / "hospital.yaml").read_text()
    text = re.sub(r"port: 150\d\d", lambda _: f"port: {free_port()}", text)
    text = text.replace("port: 1883", f"port: {mqtt_port}")
    text = text.replace("profiles: [profiles/]", f"profiles: [{CONFIG / 'profiles'}]")
    (folder / "hospital.yaml").write_text(text)
    return load_site(folder / "hospital.yaml")


async def test_every_modbus_device_of_the_reference_site_answers(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    site = hospital(tmp_path, mosquitto.port)
    async with SimulatedSite(site, seed=1) as simulated:
        for endpoint in site.config.modbus.endpoints:
            async with AsyncModbusTcpClient("127.0.0.1", port=endpoint.port) as client:
                for device in site.config.devices:
                    source = device.source
                    if not isinstance(source, ModbusSource) or source.endpoint != endpoint.id:
                        continue
                    response = await client.read_input_registers(
                        source.address, count=1, device_id=source.unit
                    )
                    assert not response.isError(), (device.id, response)
                    if device.kind == "smoke_detector":
                        assert response.registers == [0]
                    else:
                        pressure = simulated.state(device.id)["values"]["pressure"]
                        current = response.registers[0] / 1000
                        assert abs((current - 4) / 16 * 1.6 - pressure) < 0.01, device.id


async def test_exit_frees_every_port_and_a_restart_binds_them_again(site: Site) -> None:
    ports = [endpoint.port for endpoint in site.config.modbus.endpoints]
    async with SimulatedSite(site, control_port=0) as simulated:
        ports.append(simulated.control_port or 0)
        async with AsyncModbusTcpClient("127.0.0.1", port=ports[0]) as client:
            await registers(client, 0, 3)
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
    async with SimulatedSite(site, control_port=ports[-1]) as again:
        assert again.control_port == ports[-1]
        async with AsyncModbusTcpClient("127.0.0.1", port=ports[0]) as client:
            await registers(client, 0, 3)


async def test_a_port_in_use_fails_the_start_naming_the_endpoint(site: Site) -> None:
    endpoint = site.config.modbus.endpoints[1]
    holder = await asyncio.start_server(lambda r, w: None, "127.0.0.1", endpoint.port)
    try:
        with pytest.raises(
            OSError, match=f"Modbus endpoint 'main-io' cannot listen on 127.0.0.1:{endpoint.port}"
        ):
            async with SimulatedSite(site):
                pass
    finally:
        holder.close()
    first = site.config.modbus.endpoints[0].port
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", first)  # the first endpoint was closed again


# --- device physics, no sockets ---------------------------------------------------------------


def test_the_same_seed_gives_the_same_readings(site: Site) -> None:
    def run(seed: int) -> list[dict[str, Any]]:
        fleet = DeviceFleet(site, seed)
        for _ in range(20):
            fleet.step(0.2)
        return [device.values() for device in fleet.devices.values()]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_a_pressure_drop_ramps_at_its_rate_to_its_target(site: Site) -> None:
    fleet = DeviceFleet(site, 0)
    hydrant = fleet["HP-1F-01"]
    before = hydrant.values()["pressure"]
    fleet.apply("pressure_drop", "HP-1F-01", to=0.05, rate=0.6)  # 0.01 MPa/s
    for _ in range(50):
        fleet.step(0.2)  # 10 s
    after = hydrant.values()["pressure"]
    assert 0.08 < before - after < 0.12  # noise is a few kPa
    for _ in range(300):
        fleet.step(0.2)
    assert abs(float(hydrant.values()["pressure"]) - 0.05) < 0.015
    fleet.apply("clear", "HP-1F-01")
    assert abs(float(hydrant.values()["pressure"]) - float(before)) < 0.02


def test_a_fire_thickens_smoke_and_heats_the_room(site: Site) -> None:
    fleet = DeviceFleet(site, 0)
    fleet.apply("fire", "SD-2F-01")
    first = fleet["SD-2F-01"].values()
    for _ in range(25):
        fleet.step(0.2)
    later = fleet["SD-2F-01"].values()
    assert first["status"] == later["status"] == "fire"
    assert float(first["obscuration"]) > 3.0
    assert float(later["obscuration"]) > float(first["obscuration"]) + 1.5
    assert float(later["temperature"]) > float(first["temperature"]) + 1.0
    with pytest.raises(FaultError, match="unknown device 'SD-9F-01'"):
        fleet.apply("fire", "SD-9F-01")


@pytest.mark.parametrize(
    ("zone", "floor"),
    [
        ("opd-4f-or", 4),
        ("ip1-b1-kitchen", -1),
        ("main-1f-er", 1),
        ("util-pharmacy", 1),
        ("ip2-6F-ward", 6),
    ],
)
def test_hydrant_pressure_follows_the_floor(zone: str, floor: int) -> None:
    assert floor_of(zone) == floor


def test_health_documents_follow_the_profile_paths_enums_and_scales() -> None:
    profile = MqttProfile.model_validate(
        {
            "id": "nvr",
            "protocol": "mqtt",
            "kind": "camera",
            "points": [
                {"name": "online", "path": "state.online", "type": "bool"},
                {
                    "name": "status",
                    "path": "state.mode",
                    "type": "str",
                    "enum": {"REC": "recording", "IDLE": "idle"},
                },
                {"name": "bitrate", "path": "stream.bps", "type": "int", "scale": 0.001},
                {"name": "fps", "path": "stream.fps", "type": "float"},
                {"name": "missing", "path": "x", "type": "float", "required": False},
            ],
        }
    )
    values = {"online": True, "status": "recording", "bitrate": 4096.4, "fps": 25}
    assert health_document(profile, values) == {
        "state": {"online": True, "mode": "REC"},
        "stream": {"bps": 4096400, "fps": 25.0},
    }
