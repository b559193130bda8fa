"""Every resume records what changed: the log, a saved patch (local, S3 via moto), changes()."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness import s3_fs, write
from interactive_ext.session.changes import Originals, common_root, keep_originals
from interactive_ext.session.directory import Session
from interactive_ext.session.sources import _stat

TASK = """
import json, os
from interactive_ext import interactive, changes
from helpers import prep

@interactive(port=0, ready_file=os.environ["READY_FILE"], max_idle_seconds=120, {extra})
def train(epochs: int = 1):
    c = changes()
    shown = None if c is None else {{"files": [f.path for f in c.files], "saved": c.saved_to,
                                     "overrides": c.overrides}}
    return {{"value": prep() + " / OLD task", "epochs": epochs, "changes": shown}}

if __name__ == "__main__":
    print(json.dumps(train()))
"""

HELPERS = """
def prep():
    return "OLD helper"
"""


def originals(tmp_path: Path) -> Path:
    """The task's tree as it was at the start, copied aside (the "original sources")."""
    copy = tmp_path.parent / f"{tmp_path.name}-original"
    shutil.copytree(
        tmp_path, copy, ignore=shutil.ignore_patterns("__pycache__", "*.json", "*.sock")
    )
    return copy


def apply(patch: str, tree: Path) -> None:
    """patch -p1 < patch in tree, as a person would."""
    done = subprocess.run(
        ["patch", "-p1", "--batch"], input=patch, text=True, cwd=tree, capture_output=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def edit(tmp_path: Path) -> None:
    """The session's fix: the task's own file and its helper module."""
    write(tmp_path / "pkg", "helpers.py", HELPERS.replace("OLD helper", "NEW helper"))
    task = (tmp_path / "task.py").read_text()
    task = task.replace("OLD task", "NEW task")
    task = task.replace("    c =", "    # fixed in the session\n    c =")
    write(tmp_path, "task.py", task)


def start(tmp_path: Path, script: Any, extra: str, env: dict[str, str] | None = None) -> Any:
    """task.py and pkg/helpers.py (on sys.path via PYTHONPATH), started as a user does."""
    (tmp_path / "pkg").mkdir()
    write(tmp_path / "pkg", "helpers.py", HELPERS)
    write(tmp_path, "task.py", TASK.format(extra=extra))
    return script("task.py", env={"PYTHONPATH": str(tmp_path / "pkg"), **(env or {})})


def check_patch(text: str, before: Path, after: Path) -> None:
    """The patch applied to the original tree reproduces the edited files."""
    apply(text, before)
    for name in ("task.py", "pkg/helpers.py"):
        assert (before / name).read_text() == (after / name).read_text(), name


def test_a_resume_logs_and_saves_the_patch_of_both_files_and_the_override(tmp_path, script):
    saved_dir = tmp_path / "changes"
    s = start(tmp_path, script, f"save_changes_to={str(saved_dir)!r}")
    info = s.ready()
    before = originals(tmp_path)
    edit(tmp_path)
    status = s.status(info)
    listed = {f["path"]: (f["added"], f["removed"]) for f in status["task"]["changes"]}
    assert listed == {"task.py": (2, 1), "pkg/helpers.py": (1, 1)}
    r = s.resume(info, {"epochs": 3})
    assert r.status == 202, r
    assert sorted(f["path"] for f in r.body["changes"]) == ["pkg/helpers.py", "task.py"]
    code, out, err = s.finish()
    assert code == 0, err
    assert out["value"] == "NEW helper / NEW task" and out["epochs"] == 3
    # the log: after the resuming line, both diffs and the override with its origin
    tail = err[err.index("resuming task train") :]
    assert "changes at this resume: 2 changed files (+3 -2)" in tail
    assert "--- a/task.py\n+++ b/task.py" in tail and "+    # fixed in the session" in tail
    assert "--- a/pkg/helpers.py\n+++ b/pkg/helpers.py" in tail
    assert "# input override epochs = 3 (from rest)" in tail
    # the saved file: private, named after the task, applies to the original tree
    (patch,) = saved_dir.iterdir()
    assert patch.name.startswith("train-") and patch.suffix == ".patch"
    assert stat.S_IMODE(patch.stat().st_mode) == 0o600
    assert out["changes"]["saved"] == str(patch)
    assert out["changes"]["overrides"] == {"epochs": {"from": "rest", "json": True, "value": 3}}
    check_patch(patch.read_text(), before, tmp_path)


def test_no_change_logs_one_line_and_saves_nothing(tmp_path, script):
    saved_dir = tmp_path / "changes"
    s = start(tmp_path, script, f"save_changes_to={str(saved_dir)!r}")
    info = s.ready()
    assert s.status(info)["task"]["changes"] == []
    assert s.resume(info).status == 202
    code, out, err = s.finish()
    assert code == 0, err
    assert "no source file changed since the task started" in err
    assert "changes at this resume" not in err and not saved_dir.exists()
    assert out["changes"]["files"] == []


def test_a_failing_destination_is_a_warning(tmp_path, script):
    (tmp_path / "a_file").write_text("not a folder")
    s = start(tmp_path, script, f"save_changes_to={str(tmp_path / 'a_file' / 'x')!r}")
    info = s.ready()
    edit(tmp_path)
    assert s.resume(info).status == 202
    code, out, err = s.finish()
    assert code == 0, err
    assert "cannot save this resume's changes to" in err and "failure 1 of this destination" in err
    assert out["value"] == "NEW helper / NEW task" and out["changes"]["saved"] is None


def test_a_resume_whose_edit_fails_to_reload_still_logs_and_saves_its_patch(tmp_path, script):
    saved_dir = tmp_path / "changes"
    s = start(tmp_path, script, f"save_changes_to={str(saved_dir)!r}")
    info = s.ready()
    broken = HELPERS.replace("OLD helper", "NEW helper") + "import no_such_module_here\n"
    write(tmp_path / "pkg", "helpers.py", broken)  # valid syntax: the re-load itself fails
    assert s.resume(info).status == 202
    code, _, err = s.finish()
    assert code == 1, err
    assert "ReloadError" in err and "no_such_module_here" in err
    tail = err[err.index("resuming task train") :]
    assert "changes at this resume: 1 changed file" in tail
    assert tail.index("changes saved to") < tail.index("ReloadError")
    (patch,) = saved_dir.iterdir()
    assert "+import no_such_module_here" in patch.read_text()


def test_the_patch_is_saved_to_s3_from_the_environment_variable(tmp_path, script, s3):
    env = {**s3, "INTERACTIVE_EXT_SAVE_CHANGES_TO": "s3://fixes/runs/"}
    s = start(tmp_path, script, "on_idle='fail'", env=env)
    info = s.ready()
    before = originals(tmp_path)
    edit(tmp_path)
    assert s.resume(info, {"epochs": 2}).status == 202
    code, out, err = s.finish()
    assert code == 0, err
    assert out["value"] == "NEW helper / NEW task" and out["epochs"] == 2
    (key,) = s3_fs(s3).ls("fixes/runs/")
    assert key.startswith("fixes/runs/train-") and key.endswith(".patch")
    assert out["changes"]["saved"] == f"s3://{key}"
    text = s3_fs(s3).cat_file(key).decode()
    assert "# input override epochs = 2 (from rest)" in text
    check_patch(text, before, tmp_path)


# -- the pieces: originals, diffs, a new and a deleted file -------------------------------


def test_originals_give_patches_for_changed_new_and_deleted_files(tmp_path):
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    files = {"pkg/a.py": "x = 1\n", "pkg/b.py": "y = 2", "gone.py": "z = 3\n"}
    for name, text in files.items():
        (tree / name).write_text(text)
    snap = {str(tree / n): _stat(str(tree / n)) or [] for n in files}
    session = Session.create(tmp_path)
    keep_originals(session, snap, common_root(str(tree), snap))
    before = tmp_path / "before"
    shutil.copytree(tree, before)
    write(tree / "pkg", "a.py", "x = 10\n")
    write(tree / "pkg", "b.py", "y = 20")  # no newline at the end, either side
    (tree / "gone.py").unlink()
    write(tree / "pkg", "new.py", "w = 4\n")
    opened = Originals.open(session)
    assert opened is not None and opened.root == str(tree)
    found = {f.path: f.kind for f in opened.changed(also=[str(tree / "pkg/new.py")])}
    assert found == {
        "pkg/a.py": "modified",
        "pkg/b.py": "modified",
        "gone.py": "deleted",
        "pkg/new.py": "added",
    }
    apply("".join(f.diff for f in opened.changed(also=[str(tree / "pkg/new.py")])), before)
    for name in ("pkg/a.py", "pkg/b.py", "pkg/new.py"):
        assert (before / name).read_text() == (tree / name).read_text()
    assert not (before / "gone.py").exists()
    assert json.loads(json.dumps([f.brief() for f in opened.changed()]))


def test_the_resume_body_says_where_it_came_from():
    from interactive_ext.errors import InputsError
    from interactive_ext.session.overrides import parse_resume

    assert parse_resume(b'{"inputs": {"a": 1}, "via": "cli"}', None) == ({"a": 1}, "cli")
    assert parse_resume(b"", None) == ({}, "rest")
    with pytest.raises(InputsError, match=r'"via" must be one of rest, cli, dialog, resume\(\)'):
        parse_resume(b'{"via": "pickle"}', None)


def test_overrides_never_carry_a_value_with_no_json_form():
    from interactive_ext.session.changes import Changes, describe_overrides

    overrides = describe_overrides({"epochs": 3}, "cli", {"model": object(), "lr": 0.5})
    assert overrides == {
        "model": {"from": "save_inputs()", "json": False, "type": "object"},
        "lr": {"from": "save_inputs()", "json": True, "value": 0.5},
        "epochs": {"from": "cli", "json": True, "value": 3},
    }
    header = Changes("train", "/src", overrides=overrides).header()
    assert "# input override model = <object, not JSON> (from save_inputs())" in header
    assert "object at 0x" not in header


def test_changes_in_a_kernel_are_those_a_resume_would_record(tmp_path, monkeypatch):
    from interactive_ext import changes
    from interactive_ext.protocol import SESSION_ENV
    from interactive_ext.session.changes import Current

    monkeypatch.setattr(Current, "changes", None)  # an in-process task run earlier sets it
    assert changes() is None  # not a session, not a resumed run
    (tmp_path / "t.py").write_text("a = 1\n")
    snap = {str(tmp_path / "t.py"): _stat(str(tmp_path / "t.py")) or []}
    session = Session.create(tmp_path)
    keep_originals(session, snap, str(tmp_path))
    monkeypatch.setenv(SESSION_ENV, str(session.path))
    write(tmp_path, "t.py", "a = 2\n")
    c = changes()
    assert c is not None and [f.brief() for f in c.files] == [
        {"path": "t.py", "added": 1, "removed": 1, "kind": "modified"}
    ]
    assert c.summary() == "1 changed file (+1 -1)"
    assert c.patch.startswith("--- a/t.py\n+++ b/t.py\n")
