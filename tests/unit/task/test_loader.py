"""task/loader.py: a task function found by file or module, re-loaded from its edited source."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from interactive_ext.records import TaskContext
from interactive_ext.task.direct import unwrap
from interactive_ext.task.loader import load_function, reload_function, source_root

TASK = """
from interactive_ext import interactive

@interactive
def train(x):
    return ("v1", x)
"""


def test_loader_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "loadme.py").write_text(TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "loadme", raising=False)
    by_file = load_function(f"{tmp_path}/loadme.py:train")
    by_module = load_function("loadme:train")
    assert unwrap(by_file)(1) == unwrap(by_module)(1) == ("v1", 1)
    for bad, words in [
        ("loadme", "does not name a function"),
        ("loadme:nope", "has no function 'nope'"),
        ("no_such_module_xyz:f", "no module named"),
        (f"{tmp_path}/missing.py:f", "no such file"),
    ]:
        with pytest.raises(ValueError, match=words):
            load_function(bad)
    (tmp_path / "loadme.py").write_text(TASK.replace("v1", "v2"))
    context = TaskContext(
        module="loadme", qualname="train", source_file=str(tmp_path / "loadme.py")
    )
    assert reload_function(context)(2) == ("v2", 2)  # edited source, without @interactive
    script = TaskContext(module="__main__", qualname="train", source_file=context.source_file)
    assert reload_function(script)(3) == ("v2", 3)
    assert source_root("pkg.mod", str(tmp_path / "pkg" / "mod.py")) == str(tmp_path)
