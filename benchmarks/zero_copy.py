"""Figure 8: big inputs shared, not copied (interactive_ext.pickles vs plain pickle).

For a 1 GiB NumPy array and a 1 GiB pandas frame (when pandas imports): the write
(`pickles.dump`, atomic and private) vs a raw `pickle.dump` to a file, each in a fresh process,
`os.sync()` before each, alternated; the load in a fresh process (`pickles.load`, a
copy-on-write mapping) vs `pickle.load` of the plain file, alternated, with the page cache
warm (both files just written) and cold (both files' pages dropped with
`posix_fadvise(DONTNEED)` before each run, which touches no other file of the machine), each
also timed with a first pass over the data; the memory that 3 processes add when each loads it
and reads every byte (sum of `Pss` from /proc/PID/smaps_rollup, minus 3 processes that only
imported the same modules). Then a 10 MB array and a dict of 100k small objects, write and
load alternated in one process, against the same plain pickle calls.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import common
from .common import Settings
from .probes import held_mib
from .table import dist, memory_row, not_slower_row, ratio_row, row

TITLE = "8. Big inputs shared, not copied"
"""The section of docs/benchmarks.md."""

WORKER = r"""
import json, os, pickle, sys, tempfile, time
mode, kind, path, mib = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
import numpy as np
if kind == "frame":
    import pandas as pd
from interactive_ext.session import pickles

def make():
    n = mib * 2**20 // 8
    if kind == "frame":
        rows = n // 16
        columns = {f"c{i}": np.arange(rows, dtype=np.float64) + i for i in range(16)}
        return {"data": pd.DataFrame(columns)}
    if kind == "small":
        return {"data": {f"k{i}": (i, f"v{i}", float(i)) for i in range(100_000)}}
    return {"data": np.arange(n, dtype=np.float64)}

def dump(obj, ours, atomic=False):
    if ours:
        pickles.dump(obj, path)
    elif atomic:  # the session's write before this format: temp file, pickle.dump, rename
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
        with os.fdopen(fd, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    else:
        with open(path, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)

def load(ours):
    if ours:
        return pickles.load(path)
    with open(path, "rb") as f:
        return pickle.load(f)

def touch(x):
    data = x["data"]
    return float(data.to_numpy().sum() if kind == "frame" else data.sum())

side = mode.split("-")[1]
if mode.startswith("writes"):  # "writes-N": N paired writes to a new file, then over it
    # Left in place for the loads: ours.pkl (given) and plain.pkl beside it.
    obj, out = make(), {}
    files = {"ours": path, "plain": os.path.join(os.path.dirname(path), "plain.pkl")}
    for over in ("", "_over"):
        for i in range(int(mode.split("-")[1])):
            for side in ("ours", "plain") if i % 2 == 0 else ("plain", "ours"):
                path = files[side]
                if not over:
                    for name in files.values():
                        if os.path.exists(name):
                            os.unlink(name)  # no dirty page of another file is in flight
                os.sync()
                # Memory touched, then freed: the page cache gets pages the VM has backed.
                np.ones((mib + 256) * 2**20, dtype=np.uint8)
                t0 = time.perf_counter()
                dump(obj, side == "ours", atomic=bool(over))
                out.setdefault(f"write{over}_{side}", []).append(time.perf_counter() - t0)
    print(json.dumps(out))
elif mode.startswith("load"):
    t0 = time.perf_counter()
    x = load(side == "ours")
    t1 = time.perf_counter()
    touch(x)
    print(json.dumps({"seconds": t1 - t0, "with_pass": time.perf_counter() - t0}))
elif mode.startswith("hold"):
    x = None if side == "none" else load(side == "ours")
    if x is not None:
        touch(x)
    print("ready", flush=True)
    time.sleep(3600)  # the harness reads /proc, then kills this process
else:  # mode "small-N": N alternated writes and loads of both sides in this process
    obj, out = make(), {k: [] for k in ("write_ours", "write_plain", "load_ours", "load_plain")}
    for i in range(int(mode.split("-")[1])):
        for side in ("ours", "plain") if i % 2 == 0 else ("plain", "ours"):
            t0 = time.perf_counter()
            dump(obj, side == "ours", atomic=True)
            t1 = time.perf_counter()
            x = load(side == "ours")
            t2 = time.perf_counter()
            out["write_" + side].append(t1 - t0)
            out["load_" + side].append(t2 - t1)
            del x
            os.unlink(path)
    print(json.dumps(out))
"""


WRITE_RUNS = 40
"""Paired writes of each big input per side in full mode, in one process: with 15, the stalls
of the disk on either side left the interval of the median undecided (pandas: 0.966-1.626)."""
SMALL_RUNS = 200
"""Paired write-and-load runs of each small input in full mode: their difference is a few
microseconds in milliseconds, so it takes this many for the interval to be narrow."""


def _worker(s: Settings, mode: str, kind: str, path: Path, mib: int) -> dict[str, Any]:
    """Run the worker once in a fresh process; its JSON answer."""
    args = ["-c", WORKER, mode, kind, str(path), str(mib)]
    return dict(common.run_json(s.work, args, 600, f"worker {mode} {kind}"))


def _evict(path: Path) -> None:
    """Drop this file's pages from the page cache (written back first); nothing else's."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _writes(s: Settings, kind: str, paths: dict[str, Path], out: dict[str, Any]) -> None:
    """Paired writes in one process: to a new file (as inputs.pkl is), then over it."""
    assert paths["plain"] == paths["ours"].with_name("plain.pkl"), "the worker's names"
    runs = 2 if s.quick else WRITE_RUNS
    out.update(_worker(s, f"writes-{runs}", kind, paths["ours"], out["mib"]))


def _big(s: Settings, kind: str, mib: int) -> dict[str, Any]:
    """Write, load (warm and cold) and memory of one big input, both sides alternated."""
    folder = common.tmpdir(s.work, f"zero-copy-{kind}-")
    paths = {"ours": folder / "ours.pkl", "plain": folder / "plain.pkl"}
    out: dict[str, Any] = {"mib": mib}
    try:
        _writes(s, kind, paths, out)
        for cache in ("warm", "cold"):
            for _ in range(s.runs):
                for side in ("ours", "plain"):
                    if cache == "cold":
                        _evict(paths[side])
                    run = _worker(s, f"load-{side}", kind, paths[side], mib)
                    out.setdefault(f"load_{cache}_{side}", []).append(run["seconds"])
                    out.setdefault(f"pass_{cache}_{side}", []).append(run["with_pass"])
        for _ in range(min(s.runs, 3)):
            for side in ("none", "ours", "plain"):
                path = paths.get(side, paths["ours"])
                out.setdefault(f"pss3_{side}", []).append(
                    held_mib(s, side, kind, path, mib, WORKER)
                )
        s.say(
            "zero_copy %s: load warm %s vs %s; 3-process PSS %s vs %s (none %s) MiB",
            kind,
            out["load_warm_ours"],
            out["load_warm_plain"],
            out["pss3_ours"],
            out["pss3_plain"],
            out["pss3_none"],
        )
    finally:
        for path in paths.values():
            path.unlink(missing_ok=True)
        folder.rmdir()
    return out


def measure(s: Settings) -> dict[str, Any]:
    """The big inputs (1 GiB; 16 MiB in quick mode), then the small ones."""
    mib = 16 if s.quick else 1024
    out: dict[str, Any] = {"array": _big(s, "array", mib)}
    try:
        import pandas  # noqa: F401
    except ImportError:
        out["frame"] = {"skipped": "pandas is not installed in this environment"}
    else:
        out["frame"] = _big(s, "frame", mib)
    folder = common.tmpdir(s.work, "zero-copy-small-")
    n = 4 if s.quick else SMALL_RUNS
    out["array10"] = _worker(s, f"small-{n}", "array", folder / "x.pkl", 10)
    out["small"] = _worker(s, f"small-{n}", "small", folder / "x.pkl", 0)
    folder.rmdir()
    return out


# -- the report -----------------------------------------------------------------------


def _big_rows(name: str, d: dict[str, Any]) -> list[str]:
    """The rows of one big input."""
    what = f"a {d['mib']} MiB {name}"
    return [
        ratio_row(
            f"8 load of {what} in a fresh process (warm cache): `pickles.load` vs `pickle.load`",
            d["load_warm_ours"],
            d["load_warm_plain"],
            limit=0.05,
        ),
        ratio_row(
            "8 same, cold cache: load then a first pass over the data (informative)",
            d["pass_cold_ours"],
            d["pass_cold_plain"],
            limit=None,
        ),
        memory_row(f"8 memory added by 3 processes that loaded {what} and read it all", d),
        not_slower_row(
            f"8 write of {what} to a new file: `pickles.dump` (atomic, 0600) vs raw "
            "`pickle.dump` (one process, paired runs)",
            d["write_ours"],
            d["write_plain"],
        ),
        ratio_row(
            f"8 write of {what} over the existing file: `pickles.dump` vs the session's write "
            "before (`pickle.dump` into a temp file renamed over it)",
            d["write_over_ours"],
            d["write_over_plain"],
            limit=None,
        ),
    ]


def rows(d: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Figure 8 rows and notes."""
    table = _big_rows("NumPy array", d["array"])
    frame = d["frame"]
    notes = []
    if "skipped" in frame:
        table.append(row("8 a pandas frame", "not measured", "-", "-", "-", frame["skipped"]))
    else:
        table += _big_rows("pandas frame", frame)
    for key, what in (("array10", "a 10 MiB array"), ("small", "a dict of 100k small objects")):
        for op in ("write", "load"):
            table.append(
                not_slower_row(
                    f"8 {op} of {what}: ours vs the plain pickle path (one process, paired runs)",
                    d[key][f"{op}_ours"],
                    d[key][f"{op}_plain"],
                )
            )
    a = d["array"]
    notes.append(
        "Loads are timed inside a fresh process (interpreter start and imports excluded). "
        "Warm: both files were just written, so their pages are in the page cache, as for a "
        "kernel that loads the inputs the wrapper has just written. Cold: each file's pages "
        "dropped before each run (`posix_fadvise(DONTNEED)`); the mapped load itself reads "
        "nothing, and the first pass then faults the pages in from the disk. With the "
        f"first pass, warm: {dist(a['pass_warm_ours'])} ours vs "
        f"{dist(a['pass_warm_plain'])} `pickle.load` (array)."
    )
    notes.append(
        "Writes: in one process that made the object once, paired runs (which side goes "
        "first alternating), `os.sync()` before each. Before each, the process also touches and "
        "frees more memory than the file takes: this VM backs guest memory lazily and its DAMON "
        "pageout hands cold pages back, so without it a 1 GiB write into the page cache took "
        "0.2 s or up to 1.9 s depending on the pages it got, on either side. To a new file: "
        "both files are deleted before each run, as the wrapper writes inputs.pkl once into a "
        "new session directory. Both sides copy the data into the page cache once, the floor "
        "of either, so the row is judged as the small ones are (below). Over the existing "
        "file: a rename over an existing file makes ext4 (`auto_da_alloc`) start the writeback "
        "of the new file inside the rename; a raw `pickle.dump` that truncates in place pays "
        "less, so the reference there is the session's own write before this format, which "
        "renamed too."
    )
    notes.append(
        "Small inputs: write and load alternated in one process, each "
        f"{len(d['small']['write_ours'])} times, which side goes first alternating too; the "
        "reference is the session's path before this format (`pickle.dump` into a "
        "`tempfile.mkstemp` file renamed into place; `pickle.load`). Their work is the same "
        "pickling but for a few syscalls, so the ratio is that of runs paired in time, with "
        "the 95 % bootstrap interval of its median: a row passes when the interval's upper "
        "end is <= 1.05 (see Rules)."
    )
    notes.append(
        "Memory: sum of `Pss` (/proc/PID/smaps_rollup) of 3 live processes that each loaded "
        "the file and summed every value, minus that of 3 processes that imported the same "
        f"modules and loaded nothing ({dist(a['pss3_none'], 'MiB', 1, 0)}). Mapped pages "
        "are the page cache's, counted once across the 3; `pickle.load` gives each its copy."
    )
    return table, notes
