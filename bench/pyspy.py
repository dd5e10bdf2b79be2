"""Where a running gateway spends its CPU: py-spy samples it from outside, without stopping it.

`py-spy record --nonblocking` reads the process's stacks `RATE` times a second for the window
and writes them collapsed (one line per distinct stack with its count); idle threads are left
out, so the samples are CPU. Each function's share is reported two ways: own (the function at
the top of the stack) and inclusive (anywhere in the stack), as a share of all samples.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench.site import REPO

RATE = 100
OURS = re.compile(r"\((?:.*/)?(gateway|drivers|rules)/")
ENTRY = re.compile(r"\(gateway/(__main__|cli)\.py:")
"""The command's own frames, under every sample: no news in an inclusive list."""


def available() -> str | None:
    """The py-spy binary beside this Python or on PATH, if installed (`pip install py-spy`)."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


async def record(pid: int, seconds: float, out: Path) -> dict[str, Any]:
    """Sample `pid` for `seconds`; the top functions, or why there are none."""
    binary = available()
    if binary is None:
        return {"error": "py-spy is not installed (pip install py-spy)"}
    process = await asyncio.create_subprocess_exec(
        binary,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        str(RATE),
        "--format",
        "raw",
        "--function",
        "--nonblocking",
        "--output",
        str(out),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, errors = await process.communicate()
    collapsed = _read(out) if process.returncode == 0 else None
    if collapsed is None:
        return {"error": f"py-spy failed: {errors.decode(errors='replace').strip()[-500:]}"}
    return top_functions(collapsed)


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


def top_functions(collapsed: str, top: int = 12) -> dict[str, Any]:
    """Own and inclusive sample shares of the functions in py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count

    def rows(counter: Counter[str], keep: Any) -> list[dict[str, Any]]:
        chosen = [(name, n) for name, n in counter.most_common() if keep(name)][:top]
        return [
            {"function": name, "samples": n, "percent": round(100 * n / total, 1)}
            for name, n in chosen
        ]

    return {
        "samples": total,
        "rate_hz": RATE,
        "top_own": rows(own, lambda name: True),
        "top_inclusive_project": rows(
            inclusive, lambda name: bool(OURS.search(name)) and not ENTRY.search(name)
        ),
    }


def _short(frame: str) -> str:
    frame = frame.replace(str(REPO) + "/", "")
    return re.sub(r"\(/\S*/lib/python3\.\d+/", "(", frame)
