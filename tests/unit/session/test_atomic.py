"""session/atomic.py: the one atomic writer is private and leaves nothing behind a failure."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from interactive_ext.session.atomic import atomic_write


def test_atomic_write_is_private_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    folder = tmp_path / "atomic"
    folder.mkdir()
    target = folder / "x.json"
    atomic_write(target, b"one")
    assert target.read_bytes() == b"one"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600

    def broken(fd: int) -> None:
        os.write(fd, b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_bytes() == b"one"
    assert sorted(p.name for p in folder.iterdir()) == ["x.json"]
