"""`firegw demo` as a new user meets it: afresh each run, a screen that fits 80x24 and marks
what the scenario injected, a guard's command from another shell, and a clean Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firegw.screen import HEIGHT, WIDTH
from tests.sites import CONFIG, clinic_site

FIREGW = [sys.executable, "-m", "firegw"]
FIRE = "steps:\n  - {at: 1s, fault: fire, device: SD-1F-01}\n"


def demo(folder: Path, *args: str, scenario: str = FIRE) -> str:
    """The output of a demo of the clinic (in `folder`, its working directory) that ran its
    whole `--duration`."""
    (folder / "scenario.yaml").write_text(scenario)
    result = subprocess.run(
        [*FIREGW, "demo", str(site_in(folder)), "--scenario", "scenario.yaml", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        cwd=folder,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # the screen shows the alarm events; nothing writes over it
    return result.stdout


def site_in(folder: Path) -> Path:
    site = folder / "site.yaml"
    return site if site.exists() else clinic_site(folder, mqtt_port=1)


def last_frame(output: str) -> list[str]:
    return output.rstrip("\n").split("\n\n")[-1].split("\n")


def test_the_reference_site_fits_an_80_by_24_terminal_with_the_faults_marked(
    tmp_path: Path,
) -> None:
    scenario = (CONFIG / "scenarios" / "demo.yaml").read_text()
    reference = tmp_path / "site.yaml"
    text = (CONFIG / "hospital.yaml").read_text().replace("profiles/", f"{CONFIG}/profiles/")
    reference.write_text(text.replace("../var/", f"{tmp_path}/"))
    frame = last_frame(demo(tmp_path, "--duration", "55", scenario=scenario))
    assert len(frame) <= HEIGHT
    assert max(len(line) for line in frame) <= WIDTH, "\n".join(frame)
    assert frame[0].startswith("firegw demo: St Luke's General Hospital, 4 buildings")
    assert any(
        line.startswith("INJECTED BY THE SCENARIO: detector_fault IP1-SD-003") for line in frame
    )
    assert any(
        re.match(r"\S+ CRITICAL fire:OPD-SD-002 opd-1f-er \(injected\)", line) for line in frame
    )
    assert any(line.startswith("LATEST STATE CHANGES") for line in frame)


def test_each_run_starts_afresh_unless_asked_to_keep_the_state(tmp_path: Path) -> None:
    """A latched fire of one run is not the next run's, unless `--keep-state`."""
    assert "CRITICAL fire:SD-1F-01" in "\n".join(last_frame(demo(tmp_path, "--duration", "10")))
    quiet = "steps: []\n"
    assert "ALARMS (0, 0 need a person)" in last_frame(
        demo(tmp_path, "--duration", "6", scenario=quiet)
    )
    demo(tmp_path, "--duration", "10", "--keep-state")
    assert (tmp_path / "var" / "demo" / "outbox-alarms.sqlite").exists()
    kept = "\n".join(last_frame(demo(tmp_path, "--duration", "6", "--keep-state", scenario=quiet)))
    assert re.search(r"CRITICAL fire:SD-1F-01 .*RESET NEEDED", kept), kept


def test_the_screen_says_how_to_acknowledge_from_a_shell_and_that_works(tmp_path: Path) -> None:
    (tmp_path / "scenario.yaml").write_text(FIRE)
    running = subprocess.Popen(
        [*FIREGW, "demo", str(site_in(tmp_path)), "--scenario", "scenario.yaml"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert running.stdout is not None
        header = [running.stdout.readline() for _ in range(5)]
        assert header[1].startswith("http://127.0.0.1:")
        assert "guard wang.fang/" in header[1]
        assert header[2].startswith("acknowledge in that guard console, or in a shell")
        export = re.fullmatch(r"  export FIREGW_OPERATOR_KEY_FILE=(\S+)\n", header[3])
        command = re.fullmatch(r"  firegw ack (\S+) ID (.+)\n", header[4])
        assert export, header
        assert command, header
        environment = {**os.environ, "FIREGW_OPERATOR_KEY_FILE": export[1]}
        deadline = time.monotonic() + 60
        while True:  # until the fire is raised: before that, there is nothing to acknowledge
            ack = subprocess.run(
                [*FIREGW, "ack", command[1], "fire:SD-1F-01", *command[2].split()],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                cwd=tmp_path,
                env=environment,
            )
            if ack.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert ack.stdout == "fire:SD-1F-01: acknowledge done\n", ack.stderr
    finally:
        running.send_signal(signal.SIGINT)
        running.communicate(timeout=60)


@pytest.mark.parametrize("broker", [[], ["--amqtt"]], ids=["mosquitto", "amqtt"])
def test_ctrl_c_stops_the_demo_without_a_word(tmp_path: Path, broker: list[str]) -> None:
    """Ctrl-C reaches every process of the terminal's group, the broker's too: the demo
    must still stop its gateway first, so nothing reports the broker gone."""
    (tmp_path / "scenario.yaml").write_text(FIRE)
    running = subprocess.Popen(
        [*FIREGW, "demo", str(site_in(tmp_path)), "--scenario", "scenario.yaml", *broker],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,  # a group of its own, as a terminal's foreground job
    )
    assert running.stdout is not None
    for _ in range(6):  # the header, then the first frame
        running.stdout.readline()
    os.killpg(running.pid, signal.SIGINT)
    _, errors = running.communicate(timeout=60)
    assert running.returncode == 0
    assert errors == ""
