"""session/directory.py: typed records written and read back, broken files named."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from interactive_ext.errors import SessionError
from interactive_ext.records import Outcome, ReadyInfo, Reason
from interactive_ext.session.directory import Session


def test_records_round_trip_and_broken_files(tmp_path: Path) -> None:
    session = Session.create(tmp_path)
    assert stat.S_IMODE(session.path.stat().st_mode) == 0o700
    assert session.outcome() is None and session.context() is None
    session.record_outcome(Reason.IDLE)
    outcome = session.outcome()
    assert isinstance(outcome, Outcome) and outcome.reason is Reason.IDLE
    assert json.loads((session.path / "outcome.json").read_text())["reason"] == "idle"
    (session.path / "context.json").write_text("{broken")
    with pytest.raises(SessionError, match=r"context\.json"):
        session.context()
    (session.path / "context.json").write_text('{"qualname": "x"}')
    with pytest.raises(SessionError, match="TaskContext"):
        session.context()
    info = ReadyInfo("u", "s", "/", 1, "t", 2, str(session.path))
    assert ReadyInfo.from_json(info.to_json()) == info
