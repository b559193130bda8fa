"""A 202 means the task runs with these inputs: the server asks the task's own conversion first."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import ipaddress
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import run_cli, write
from interactive_ext.errors import InputsError
from interactive_ext.records import Reason
from interactive_ext.session.conversion import ConversionService, check_resume
from interactive_ext.session.directory import Session
from interactive_ext.task.context import make_context
from interactive_ext.task.parameters import convert, describe

TASK = """
import datetime, decimal, ipaddress, json, os, uuid
from interactive_ext import interactive

@interactive(port=0, ready_file=os.environ["READY_FILE"], max_idle_seconds=120)
def typed(n: int = 1, x: float = 1.0, day: datetime.date = datetime.date(2024, 1, 1),
          uid: uuid.UUID | None = None, amount: decimal.Decimal = decimal.Decimal(1),
          ip: ipaddress.IPv4Address | None = None, raw: bytes = b"",
          days: list[datetime.date] | None = None, ids: dict[str, uuid.UUID] | None = None):
    return {"n": n, "x": x, "day": day.isoformat(), "uid": str(uid), "amount": str(amount),
            "ip": str(ip), "raw": raw.decode(), "days": [d.isoformat() for d in days or []],
            "ids": {k: str(v) for k, v in (ids or {}).items()}}

if __name__ == "__main__":
    print(json.dumps(typed()))
"""

UID = "12345678-1234-5678-1234-567812345678"
BAD = [
    ("n", 1e19),
    ("n", 1e300),
    ("x", 10**399),
    ("day", "2024-13-45"),
    ("uid", "not-a-uuid"),
    ("amount", "ten"),
    ("ip", "999.1.1.1"),
    ("raw", "\ud800"),
    ("days", ["2024-01-02", "2024-13-45"]),
    ("ids", {"a": UID, "b": "nope"}),
]


def test_what_the_task_cannot_convert_is_a_400_and_the_session_resumes(tmp_path, script):
    write(tmp_path, "task.py", TASK)
    s = script("task.py")
    info = s.ready()
    for name, value in BAD:
        r = s.resume(info, {name: value})
        assert r.status == 400, (name, value, r)
        assert f"input {name} must be" in r.body["message"], r.body
        assert s.status(info)["state"] == "waiting"
    good = {
        "n": 7,
        "x": 10**20,
        "day": "2024-02-29",
        "uid": UID,
        "amount": "1.25",
        "ip": "10.0.0.1",
        "raw": "abc",
        "days": ["2024-01-02"],
        "ids": {"a": UID},
    }
    r = s.resume(info, good)
    assert r.status == 202, r
    code, out, err = s.finish()
    assert code == 0, err
    assert out == {**good, "x": 1e20}


# -- every value the server accepts converts in the task (no server: its two checks, the socket)


def typed(
    n: int = 1,
    x: float = 1.0,
    flag: bool = False,
    day: datetime.date | None = None,
    uid: uuid.UUID | None = None,
    amount: decimal.Decimal | None = None,
    ip: ipaddress.IPv4Address | None = None,
    raw: bytes = b"",
    ints: list[int] | None = None,
    table: dict[str, float] | None = None,
    pair: tuple[int, datetime.date] | None = None,
):
    return n


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e19, 1e300, 10**399, -(2**63), 2**64])
    | st.text(max_size=12)
    | st.sampled_from(["2024-13-45", "2024-02-29", UID, "1.5", "10.0.0.1", "\ud800", "nan"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """A session with typed's context and the task's conversion service listening in it."""
    session = Session.create(tmp_path_factory.mktemp("conv"))
    service = ConversionService(session, lambda inputs: convert(typed, inputs))
    context = make_context(typed, Path("typed.ipynb"))
    context.parameters = describe(typed, {})
    yield session, context
    service.close()


def server_accepts(session: Session, context: Any, body: bytes) -> dict[str, Any] | None:
    """The overrides the server would answer 202 for, or None for a 400."""
    try:
        inputs, _ = asyncio.run(check_resume(body, context, session.path))
    except InputsError:
        return None
    return inputs


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from([p["name"] for p in describe(typed, {})]), value=JSON)
def test_every_value_the_server_accepts_converts_in_the_task(service, name, value):
    session, context = service
    body = json.dumps({"inputs": {name: value}}).encode()
    inputs = server_accepts(session, context, body)
    if inputs is None:
        return
    session.record_outcome(Reason.RESUMED, inputs, "rest")  # what the task process reads back
    outcome = session.outcome()
    assert outcome is not None
    convert(typed, outcome.inputs)  # the resumed run's own conversion: no InputsError


SLOW = """
import json, os, time
from typing import Annotated
from pydantic import AfterValidator
from interactive_ext import interactive

slept = []

def slowly(v):
    if not slept:  # the server's question only: longer than a client once waited (10 s)
        slept.append(time.sleep(11))
    return v

@interactive(port=0, ready_file=os.environ["READY_FILE"], max_idle_seconds=120)
def slow(n: Annotated[int, AfterValidator(slowly)] = 1):
    return {"n": n}

if __name__ == "__main__":
    print(json.dumps(slow()))
"""


def test_the_cli_waits_out_a_slow_conversion_and_reports_its_202(tmp_path, script, cli_env):
    write(tmp_path, "slow.py", SLOW)
    s = script("slow.py")
    info = s.ready()
    url, token = info["server_url"], info["token"]
    done = run_cli(cli_env, "resume", "--url", url, "--token", token, "--inputs", '{"n": 3}')
    assert done.returncode == 0, done.stderr
    code, out, err = s.finish()
    assert code == 0, err
    assert out == {"n": 3}
