"""Figure 14: a failure parked and the machine released, then opened elsewhere, lazily.

A task with a NumPy input of MIB MiB (1 GiB; 16 MiB in quick mode) fails; it notes the wall
time of its failure in a file, and the clock stops when its process has exited. Three ways,
alternated: `on_failure="park"` to a local folder, the same to moto's S3 server on 127.0.0.1,
and the same task failing plainly (INTERACTIVE_EXT_ENABLE=0). The floor is writing the data
once to the same place (one file, the same bytes). Then `open` of the local parked session:
from its start to its ready file (the URL), and the memory (PSS) that 3 kernels of that
opened session add when each loads the input and reads it all.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from harness import Address, execute, start_kernel, wait_for
from harness.storage import moto_s3

from . import common
from .common import Settings
from .probes import pss_kib
from .table import dist, med, row, verdict

TITLE = "14. A failure parked, the machine released, opened elsewhere"

TASK = """
import os, sys, time
import numpy as np
from interactive_ext import interactive

@interactive(on_failure="park")
def task(data):
    with open(os.environ["FAILED_AT"], "w") as f:
        f.write(repr(time.time()))
    raise ValueError("the benchmark's failure")

task(np.ones(int(sys.argv[1]) * 2**20 // 8))
"""

LOAD = """
import pathlib
from interactive_ext import load_inputs
x = load_inputs()["data"]
x.sum()
pathlib.Path({done!r}).write_text("ok")
"""


def _fail_once(s: Settings, mib: int, env: dict[str, str], log: Path) -> float:
    """Run the failing task once; seconds from its failure to its process's end."""
    failed = s.work / "failed-at"
    failed.unlink(missing_ok=True)
    env = {**env, "FAILED_AT": str(failed)}
    with common.running([common.PYTHON, "-c", TASK, str(mib)], env, s.work, log) as proc:
        proc.popen.wait(600)
        end = time.time()
    return end - float(failed.read_text())


def _write_once(to: str, mib: int) -> float:
    """Seconds to write mib MiB as one new file under to (the floor)."""
    from interactive_ext.session.destination import Location

    data = b"\1" * (mib * 2**20)
    name = f"floor-{time.monotonic_ns()}"
    t = time.perf_counter()
    with Location(to).open_write(name) as f:
        f.write(data)
    return time.perf_counter() - t


@contextlib.contextmanager
def _moto(env: dict[str, str]) -> Any:
    """moto's S3 (the harness's) for the task runs and this process's floor writes; env for
    it (None: moto is missing)."""
    if importlib.util.find_spec("moto") is None:
        yield None
        return
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    with moto_s3() as aws:
        saved = {k: os.environ.get(k) for k in aws}
        os.environ.update(aws)
        try:
            yield {**env, **aws}
        finally:
            for k, v in saved.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def _releases(s: Settings, mib: int, out: dict[str, Any]) -> Path:
    """The three ways alternated, and the floors; the local parked folder of the last run."""
    base = common.bench_env(s.work)
    parks = common.tmpdir(s.work, "parks-")
    ways = {
        "local": {**base, "INTERACTIVE_EXT_PARK_TO": str(parks)},
        "plain": {**base, "INTERACTIVE_EXT_PARK_TO": str(parks), "INTERACTIVE_EXT_ENABLE": "0"},
    }
    with _moto(base) as s3:
        if s3 is not None:
            ways["s3"] = {**s3, "INTERACTIVE_EXT_PARK_TO": "s3://fixes/parks"}
        for i in range(s.runs):
            for way, env in ways.items():
                seconds = _fail_once(s, mib, env, s.work / f"park-{way}-{i}.log")
                out.setdefault(f"release_{way}", []).append(seconds)
            out.setdefault("floor_local", []).append(_write_once(str(parks), mib))
            if s3 is not None:
                out.setdefault("floor_s3", []).append(_write_once("s3://fixes/floor", mib))
            s.say(
                "park #%d: failure to exit local %.2f s, s3 %s s, plain %.2f s",
                i + 1,
                out["release_local"][-1],
                out.get("release_s3", ["-"])[-1],
                out["release_plain"][-1],
            )
    folders = sorted(p for p in parks.iterdir() if (p / "parked.json").exists())
    out["parked_mib"] = sum(f.stat().st_size for f in folders[-1].iterdir()) / 2**20
    return folders[-1]


def _pss_mib(pids: list[int]) -> float:
    """The summed PSS of pids, in MiB."""
    return sum(pss_kib(pid) for pid in pids) / 1024


def _open(s: Settings, folder: Path, out: dict[str, Any]) -> None:
    """open to its ready file; then 3 kernels load the input: the PSS they add."""
    from interactive_ext.procs import descendants

    ready = s.work / "open-ready.json"
    ready.unlink(missing_ok=True)
    cmd = [str(common.BIN / "jupyter-interactive-task"), "open", str(folder), "--trust"]
    cmd += ["--port", "0", "--ready-file", str(ready), "--max-idle-seconds", "600"]
    work = common.tmpdir(s.work, "open-")
    with common.running(cmd, common.bench_env(s.work), work, s.work / "open.log") as proc:
        wait_for(lambda: ready.exists() or not proc.alive(), 120, "open's ready file")
        out.setdefault("open_seconds", []).append(time.monotonic() - proc.t0)
        info = json.loads(ready.read_text())
        port, token = info["port"], info["token"]
        server = Address(port, token)
        kernels = [start_kernel(server) for _ in range(3)]
        for k in kernels:  # each answers, its imports done
            execute(server, k, "import numpy, interactive_ext.kernel", timeout=120)
        pids = [p for p in descendants(proc.pid) if "ipykernel" in _cmdline(p)]
        before = _pss_mib(pids)
        for i, k in enumerate(kernels):
            done = work / f"loaded-{i}"
            execute(server, k, LOAD.format(done=str(done)), wait=False)
            wait_for(done.exists, 300, f"kernel {i} to load the input")
        out.setdefault("pss3_added", []).append(_pss_mib(pids) - before)


def _cmdline(pid: int) -> str:
    """A process's command line ('' when it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def measure(s: Settings) -> dict[str, Any]:
    """Release, open and memory for a MIB MiB input (1 GiB; 16 MiB in quick mode)."""
    mib = 16 if s.quick else 1024
    out: dict[str, Any] = {"mib": mib}
    folder = _releases(s, mib, out)
    for _ in range(s.runs):
        _open(s, folder, out)
    s.say("park: open to ready %s s; 3 kernels add %s MiB", out["open_seconds"], out["pss3_added"])
    return out


def rows(d: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Figure 14 rows and notes."""
    mib = d["mib"]
    table = []
    for way in ("local", "s3"):
        runs = d.get(f"release_{way}")
        if not runs:
            continue
        plain, floor = med(d["release_plain"]) or 0, med(d[f"floor_{way}"]) or 0
        extra = (med(runs) or 0) - plain
        ratio = extra / floor if floor else None
        ok = ratio is not None and ratio <= 1.2 and (way != "local" or (med(runs) or 9) < 2)
        table.append(
            row(
                f"14a failure to the task's exit, parked to {way} ({mib} MiB input), beyond "
                "the same task failing plainly",
                f"{dist(runs)} (plain {dist(d['release_plain'])})",
                f"writing the data once: {dist(d[f'floor_{way}'])}",
                f"{ratio:.2f}" if ratio is not None else "-",
                "<= 1.2x writing the data once" + ("; < 2 s" if way == "local" else ""),
                verdict(ok),
            )
        )
    opened = med(d["open_seconds"])
    table.append(
        row(
            f"14b `open` to its ready URL, a {mib} MiB parked session (lazy)",
            dist(d["open_seconds"]),
            "-",
            "-",
            "< 3 s",
            verdict(opened < 3 if opened is not None else None),
        )
    )
    copies = (med(d["pss3_added"]) or 0) / mib
    table.append(
        row(
            f"14c PSS 3 kernels of an opened session add loading the {mib} MiB input",
            f"{dist(d['pss3_added'], 'MiB', 1, 0)} = {copies:.2f} copies",
            "-",
            "-",
            "<= 1.1 copies of the data",
            verdict(copies <= 1.1),
        )
    )
    notes = [
        f"The parked folder holds {d['parked_mib']:.0f} MiB for a {mib} MiB input: the input "
        "is written once, to inputs.pkl, and the failing frame's local that is that very "
        "object refers to it (frames.pkl stays small). Each pickle's digest (BLAKE3) is "
        "computed from memory by a second thread while the file is written, and kept; parking "
        "hashes only the other files and, to a local folder on the same filesystem, links the "
        "session's files instead of copying them; to S3 it uploads them, after "
        "importing s3fs and connecting (about a second of fixed cost, which dominates the "
        "quick mode's 16 MiB).",
        "The clock of 14a starts at the task's own failure (a wall time it writes) and stops "
        "when its process has exited, so the interpreter's teardown is in both sides; the "
        "plain run is the same task with INTERACTIVE_EXT_ENABLE=0.",
        "14b: `open` fetches the small files (digests checked), lays the sources out and starts "
        "the server; the pickles over 1 MiB are fetched after it (digests checked before a "
        "kernel can read them), so the URL does not wait for the data.",
    ]
    return table, notes
