"""Figure 13: what keeping the changes costs, at the task's start and at a resume.

A source tree of 2,000 Python modules (20 packages of 100, about 5 KB each) is imported by a
fresh interpreter, which then times the task process's own steps: the snapshot at the start
(one stat per module file, on the critical path before the server is spawned), the copy of
the originals into the session (done while the server child starts), and, after 20 of the
files are edited, the diff a resume computes (every file's stat, the 20 read and diffed, the
patch text). The start's cost is compared with the wrapper's startup measured in the same run
(figure 1's clock: spawn to the first answer of `jupyter interactive-task run tasks.py:trivial`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as the probe: python benchmarks/changes.py probe ...
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common
from benchmarks.common import Settings
from benchmarks.probes import wrapper_once
from benchmarks.table import dist, med, row, verdict

TITLE = "13. Keeping the changes: the start's snapshot, the resume's diff"
"""The section of docs/benchmarks.md."""

FILES = 2000
PACKAGES = 20
CHANGED = 20

FUNCTION = '''
def step_{j}(values, scale={j}):
    """Scale and clip the values (a line of ordinary code, as a project has many)."""
    out = []
    for v in values:
        x = v * scale + {j}
        if x > 1000:
            x = 1000
        out.append(x)
    return out
'''


def make_tree(root: Path) -> list[str]:
    """FILES modules in PACKAGES packages under root; their import names."""
    names = []
    per = FILES // PACKAGES
    for p in range(PACKAGES):
        pkg = root / f"proj_{p}"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        for m in range(per):
            body = "".join(FUNCTION.format(j=j) for j in range(16))
            (pkg / f"mod_{m}.py").write_text(f'"""Module {m} of package {p}."""\n{body}')
            names.append(f"proj_{p}.mod_{m}")
    return names


def probe(tree: Path, runs: int) -> dict[str, Any]:
    """In this process: import the tree, then time snapshot, keep_originals and the diff."""
    import importlib

    from interactive_ext.session.changes import Changes, Originals, keep_originals
    from interactive_ext.session.directory import Session
    from interactive_ext.session.sources import snapshot

    sys.path.insert(0, str(tree))
    names = [f"{d.name}.{f.stem}" for d in sorted(tree.iterdir()) for f in sorted(d.glob("m*.py"))]
    t = time.perf_counter()
    for name in names:
        importlib.import_module(name)
    imported = time.perf_counter() - t
    edited = [tree / n.replace(".", "/") for n in names[:: len(names) // CHANGED]][:CHANGED]
    out: dict[str, Any] = {"imported_seconds": imported, "runs": []}
    for _ in range(runs):
        t = time.perf_counter()
        snap = snapshot()
        t_snap = time.perf_counter() - t
        session = Session.create(tree.parent)
        t = time.perf_counter()
        keep_originals(session, snap, str(tree))
        t_keep = time.perf_counter() - t
        before = {p: p.with_suffix(".py").read_text() for p in edited}
        for p, text in before.items():
            new = text.replace("x = 1000", "x = 999", 1) + "\n\ndef added():\n    return 1\n"
            p.with_suffix(".py").write_text(new)
        t = time.perf_counter()
        files = Originals.open(session).changed()  # type: ignore[union-attr]
        text = Changes("bench", str(tree), files).text()
        t_diff = time.perf_counter() - t
        for p, old in before.items():
            p.with_suffix(".py").write_text(old)
        out["runs"].append(
            {
                "files": len(snap),
                "snapshot": t_snap,
                "keep_originals": t_keep,
                "archive_mb": (session.path / "originals.bin").stat().st_size / 2**20,
                "diff": t_diff,
                "changed": len(files),
                "patch_kb": len(text) / 1024,
            }
        )
    return out


def measure(s: Settings) -> dict[str, Any]:
    """The probe in a fresh interpreter, and the wrapper's startup (figure 1's clock)."""

    work = common.tmpdir(s.work, "changes-")
    make_tree(work / "tree")
    args = [__file__, "probe", str(work / "tree"), str(s.runs)]
    out: dict[str, Any] = common.run_json(s.work, args, 600, "the probe")
    out["startup"] = []
    for i in range(s.runs):
        run = wrapper_once(s)
        out["startup"].append(run["seconds"])
        r = out["runs"][i]
        s.say(
            "changes #%d: snapshot %.1f ms + originals %.1f ms of %d files; startup %.3f s; "
            "diff of %d changed %.1f ms",
            i + 1,
            r["snapshot"] * 1e3,
            r["keep_originals"] * 1e3,
            r["files"],
            run["seconds"],
            r["changed"],
            r["diff"] * 1e3,
        )
    return out


def rows(d: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Figure 13 rows and notes."""

    runs = d["runs"]
    start = [r["snapshot"] + r["keep_originals"] for r in runs]
    startup = med(d["startup"])
    share = (med(start) or 0) / startup if startup else None
    n = runs[0]["files"] if runs else 0
    table = [
        row(
            f"13a keeping the sources at the start, {n} module files: snapshot (critical path) "
            "+ originals copied (while the server starts)",
            f"{dist(start, 'ms', 1e3, 1)} (snapshot "
            f"{dist([r['snapshot'] for r in runs], 'ms', 1e3, 1)})",
            f"wrapper startup: {dist(d['startup'])}",
            f"{share:.1%}" if share is not None else "-",
            "< 5 % of startup",
            verdict(share < 0.05 if share is not None else None),
        ),
        row(
            f"13b the diff at a resume, {runs[0]['changed'] if runs else '-'} of {n} files "
            "changed (stat all, read and diff the changed, patch text)",
            dist([r["diff"] for r in runs], "ms", 1e3, 1),
            "-",
            "-",
            "(informative: report)",
            "n/a",
        ),
    ]
    notes = [
        f"The originals file is {med([r['archive_mb'] for r in runs]) or 0:.1f} MiB "
        "(the bytes back to back plus a JSON index, 0600 in the session); the patch of 20 "
        f"files is "
        f"{med([r['patch_kb'] for r in runs]) or 0:.1f} KiB. Importing the tree itself took "
        f"{d['imported_seconds']:.2f} s, which the task pays with or without interactive_ext.",
        "The snapshot is one stat per module file; the copy runs in the task process while "
        "the server child starts, so on an idle machine it overlaps the startup rather than "
        "adding to it; the ratio counts it in full.",
    ]
    return table, notes


if __name__ == "__main__" and sys.argv[1:2] == ["probe"]:
    print(json.dumps(probe(Path(sys.argv[2]), int(sys.argv[3]))))
