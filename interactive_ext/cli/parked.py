"""`open`, `run --from`, `list --parked` and `clean --parked`: parked sessions, anywhere.

`open` fetches a parked session (digests checked, its signature or --trust), lays its sources
out in a working folder with the session's edits applied, and serves it with the extension in
its parked mode; a resume there saves the edits and the overrides back into the parked folder
and prints the `run --from` command (or, with --resume-here, runs it on this machine).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ServerError
from ..protocol import PARKED, SAVED_INPUTS, SAVED_VALUES
from ..records import Reason
from ..session import parked
from ..session.destination import Location
from ..session.directory import Session
from . import exits
from .exits import PROG, UsageError

log = logging.getLogger("interactive_ext.cli")

LAZY = parked.LAZY_BYTES
RESUME_SAVED = "resume/saved_inputs.pkl"
"""The save_inputs() values of a resume in an opened session (run --from loads them)."""


def locate(given: str | None) -> tuple[Location, dict[str, Any]]:
    """The parked folder named (or the newest at the configured destination) and its manifest."""
    try:
        if given:
            where = Location(given)
            return where, parked.read_manifest(where)
        found = parked.parked_sessions(parked.destination())
    except (ValueError, RuntimeError, parked.Refused) as e:
        raise UsageError(str(e)) from None
    if not found:
        raise UsageError(f"no parked session at {parked.destination()}")
    return found[-1].where, found[-1].manifest


def fetch(
    where: Location,
    manifest: dict[str, Any],
    trust: bool,
    refused: Callable[[str], None] | None = None,
) -> Session:
    """The parked files in a new private session directory (trust and digests checked);
    with refused: the big pickles are fetched in the background (kernels wait for them, and
    refused(why) is called if one does not check)."""
    try:
        parked.check_trust(manifest, trust)
        session = Session.create()
    except parked.Refused as e:
        raise UsageError(str(e)) from None
    files = manifest.get("files") or {}
    later = [n for n, f in files.items() if refused and n.endswith(".pkl") and f["size"] > LAZY]
    try:
        parked.fetch(where, manifest, session.path, [n for n in files if n not in later])
        if refused is not None:
            parked.fetch_later(where, manifest, session.path, later, refused)
    except (parked.Refused, OSError) as e:
        shutil.rmtree(session.path, ignore_errors=True)
        raise UsageError(
            f"{e}" if isinstance(e, parked.Refused) else f"cannot fetch: {e}"
        ) from None
    if manifest.get("left_out"):
        log.warning("left out when parked: %s", ", ".join(manifest["left_out"]))
    return session


def edits(session: Session) -> str:
    """The latest saved edits: a resume's, else those made before the park."""
    for name in (parked.RESUME_EDITS, parked.EDITS):
        if (session.path / name).is_file():
            return (session.path / name).read_text()
    return ""


def lay_out(session: Session, manifest: dict[str, Any], base: str | None) -> tuple[Path, Any]:
    """The working folder (a new one under base, default the current directory) and the map
    of original paths to laid-out ones."""
    from ..session.layout import lay_out as write_sources

    name = str(manifest.get("qualname") or "task").replace("<", "_").replace(">", "_")
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-parked-", dir=base or os.getcwd())).resolve()
    try:
        moved = write_sources(session, folder, edits(session))
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot lay the sources out in {folder}: {e}") from None
    for path in session.path.glob(f"{parked.NOTEBOOKS}**/*.ipynb"):
        target = folder / path.relative_to(session.path / parked.NOTEBOOKS)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return folder, moved


def import_dir(folder: Path, manifest: dict[str, Any]) -> Path:
    """The folder the task's module imports from, in the laid-out sources."""
    return (folder / str(manifest.get("import_root") or ".")).resolve()


# -- open ------------------------------------------------------------------------------------


def cmd_open(args: argparse.Namespace) -> int:
    """Serve a parked session here; on a resume, save its edits back (or run it here)."""
    from ..errors import Terminated
    from ..task.signals import signals_as_exceptions

    with signals_as_exceptions():
        try:
            return open_here(args)
        except KeyboardInterrupt:
            return exits.fail(exits.SIGINT, "interrupted (SIGINT)", "open")
        except Terminated:
            return exits.fail(exits.SIGTERM, "terminated (SIGTERM)", "open")


def open_here(args: argparse.Namespace) -> int:
    """cmd_open without the signal handling."""
    from ..session.layout import rebase
    from ..session.reading import saved_inputs
    from ..task.run import run_to_end
    from ..task.starter import notebook_name
    from .opened import OpenedRun, server_options

    where, manifest = locate(args.source)
    options = server_options(args)
    refusal = Refusal()
    session = fetch(where, manifest, args.trust, refusal)
    try:
        folder, moved = lay_out(session, manifest, args.notebook_dir)
        notebook = folder / notebook_name(str(manifest.get("qualname")))
        rebase(session, folder, moved, notebook)
        here = {
            "origin": where.path(),
            "resume_here": args.resume_here,
            "moved": {path: str(new) for path, new in moved.items()},  # the frames' files here
        }
        session.write_json(PARKED, {**manifest, **here})
        refusal.run = run = OpenedRun(session, folder, options, manifest)
        run.refused = lambda: refusal.why is not None
        try:
            outcome = run_to_end(run.serve(run.prepare))
        except ServerError as e:
            if refusal.why:  # a big file's digest did not check: the server was stopped
                return exits.fail(exits.USAGE, refusal.why, "open")
            return exits.fail(exits.SERVER, f"the Jupyter server failed: {e}", "open")
        if outcome.reason is not Reason.RESUMED:
            return exits.fail(exits.IDLE, f"the server stopped ({outcome.reason.value})", "open")
        command = save_back(where, manifest, session, outcome.inputs, saved_inputs(session))
    finally:
        shutil.rmtree(session.path, ignore_errors=True)
    if not args.resume_here:
        print(command)
        return exits.OK
    extra = ["--trust"] if args.trust else []
    return subprocess.call([*command_words(where), *extra, "--port", "0"])


class Refusal:
    """A big file fetched after the start did not check: why, and the server it stops."""

    def __init__(self) -> None:
        """Nothing refused yet."""
        self.why: str | None = None
        self.run: Any = None

    def __call__(self, why: str) -> None:
        """Note why, and stop the server (its round then ends without an outcome)."""
        self.why = why
        server = getattr(self.run, "last", None)
        if server is not None and server.proc is not None:
            server.proc.terminate()


def command_words(where: Location) -> list[str]:
    """The `run --from` command as an argument list for this Python."""
    return [sys.executable, "-m", "interactive_ext.cli", "run", "--from", where.path()]


def save_back(
    where: Location,
    manifest: dict[str, Any],
    session: Session,
    sent: dict[str, Any],
    saved: dict[str, Any],
) -> str:
    """The resume's edits and overrides into the parked folder; the `run --from` command."""
    from ..session.changes import Originals

    originals = Originals.open(session)
    patch = "".join(f.diff for f in originals.changed()) if originals else ""
    values = session.read_json(SAVED_VALUES) or {}
    json_saved = {k: v["value"] for k, v in values.items() if v.get("json") and k in saved}
    parts = [
        parked.Part(parked.RESUME_EDITS, patch.encode()),
        parked.Part(parked.RESUME_INPUTS, json.dumps({**json_saved, **sent}).encode()),
    ]
    if (session.path / SAVED_INPUTS).is_file():
        parts.append(parked.Part(RESUME_SAVED, (session.path / SAVED_INPUTS).read_bytes()))
    parked.update(where, manifest, parts)
    log.info(
        "saved the edits (%d bytes of patch) and the overrides to %s", len(patch), where.path()
    )
    return f"{PROG} run --from {where.path()}"


# -- run --from --------------------------------------------------------------------------------


def from_parked(args: argparse.Namespace) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """run --from: the task's MODULE:FUNCTION in the laid-out sources (edits applied, on
    sys.path), its parked inputs with save_inputs()'s, and the saved JSON overrides."""
    from ..session.pickles import load as load_pickle

    where, manifest = locate(args.source)
    session = fetch(where, manifest, args.trust)
    try:
        folder, moved = lay_out(session, manifest, None)
        sys.path.insert(0, str(import_dir(folder, manifest)))
        source = manifest.get("source_file")
        if manifest.get("module") == "__main__" and source in moved:
            ref = f"{moved[source]}:{manifest.get('qualname')}"
        else:
            ref = str(manifest.get("function"))
        inputs: dict[str, Any] = {}
        for name in ("inputs.pkl", SAVED_INPUTS, RESUME_SAVED):
            if (session.path / name).is_file():  # a class missing here: a named placeholder
                inputs.update(load_pickle(session.path / name, lenient=True))
        overrides = {}
        if (session.path / parked.RESUME_INPUTS).is_file():
            overrides = json.loads((session.path / parked.RESUME_INPUTS).read_bytes())
    finally:
        shutil.rmtree(session.path, ignore_errors=True)
    log.info("running %s from %s, its sources in %s", ref, where.path(), folder)
    return ref, inputs, overrides


# -- list --parked and clean --parked ---------------------------------------------------------


def cmd_list_parked(args: argparse.Namespace) -> int:
    """One line per parked session: task, when, why, host, size, where."""
    from .parked_flags import age_text, size_text

    try:
        found = parked.parked_sessions(parked.destination(args.parked or None))
    except (ValueError, RuntimeError) as problem:
        raise UsageError(str(problem)) from None
    if args.json:
        rows = [{"where": e.where.path(), "size": e.size, **e.manifest} for e in found]
        print(json.dumps(rows, indent=1, default=str))
        return exits.OK
    if not found:
        print("no parked session")
    for e in found:
        m = e.manifest
        print(
            f"{e.where.path()}  {m.get('task')}  {age_text(e.age)} ago  {m.get('why')}  "
            f"{m.get('host')}  {size_text(e.size)}"
        )
    return exits.OK


def cmd_clean_parked(args: argparse.Namespace, older: float) -> int:
    """Remove the parked sessions older than older seconds (only folders with a manifest)."""
    from .parked_flags import age_text, size_text

    try:
        found = parked.parked_sessions(parked.destination(args.parked or None))
    except (ValueError, RuntimeError) as problem:
        raise UsageError(str(problem)) from None
    removed = [e for e in found if e.age >= older]
    for e in removed:
        e.where.remove()
        why = e.manifest.get("why")
        print(f"removed {e.where.path()} ({size_text(e.size)}, {age_text(e.age)} old: {why})")
    if not removed:
        print("nothing to remove")
    return exits.OK
