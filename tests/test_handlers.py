"""REST handlers on pytest-jupyter's in-process server: answers and errors."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError


@pytest.fixture
def session_dir(tmp_path):
    path = tmp_path / "session"
    path.mkdir(mode=0o700)
    context = {
        "module": "train",
        "qualname": "train",
        "parameters": [
            {
                "name": "epochs",
                "annotation": "int",
                "default": 3,
                "value": 5,
                "json": True,
                "schema": {"type": "integer"},
            },
            {
                "name": "lr",
                "annotation": None,
                "default": None,
                "value": "<object>",
                "json": False,
                "schema": None,
            },
        ],
        "var_keyword": False,
        "notebook": "train.ipynb",
    }
    (path / "context.json").write_text(json.dumps(context))
    return path


@pytest.fixture
def jp_server_config(session_dir):
    return {
        "ServerApp": {"jpserver_extensions": {"interactive_ext": True}},
        "InteractiveApp": {
            "session_dir": str(session_dir),
            "max_idle_seconds": 3600,
            "idle_warning_seconds": 3600,
        },
    }


async def get_json(jp_fetch, *path, **kw):
    r = await jp_fetch(*path, **kw)
    return json.loads(r.body)


async def test_status_names_the_task_and_session(jp_fetch, session_dir):
    body = await get_json(jp_fetch, "interactive", "status")
    assert body["state"] == "waiting"
    assert body["session_dir"] == str(session_dir)
    assert body["notebook"] == "train.ipynb"
    assert body["task"]["parameters"] == [
        {"name": "epochs", "annotation": "int", "default": 3, "value": 5, "json": True},
        {"name": "lr", "annotation": None, "default": None, "value": "<object>", "json": False},
    ]
    # what save_inputs() stored is read fresh on every status
    (session_dir / "saved_inputs.json").write_text(json.dumps({"lr": {"value": 0.5, "json": True}}))
    body = await get_json(jp_fetch, "interactive", "status")
    assert body["task"]["parameters"][1]["value"] == 0.5
    assert body["task"]["parameters"][1]["json"] is True
    assert body["idle"]["max_idle_seconds"] == 3600


async def test_heartbeat_get_is_not_activity_post_is(jp_fetch):
    first = await get_json(jp_fetch, "interactive", "heartbeat")
    again = await get_json(jp_fetch, "interactive", "heartbeat")
    assert again["last_activity"] == first["last_activity"]
    assert again["last_activity_source"] == "start"
    posted = await get_json(jp_fetch, "interactive", "heartbeat", method="POST", body=b"")
    assert posted["last_activity_source"] == "heartbeat"
    assert posted["last_activity"] > first["last_activity"]
    assert set(posted) >= {
        "idle_seconds",
        "max_idle_seconds",
        "shutdown_deadline",
        "seconds_remaining",
        "holds",
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"inputs": {}, "extra": 1}', "unknown key(s) extra"),
        (b'{"inputs": [1]}', '"inputs" must be an object'),
        (b'{"inputs": {"epochs": 1, "batch": 2}}', "unknown input(s) batch"),
        (b'{"inputs": {"epochs": "ten"}}', "input epochs must be int, got 'ten'"),
        (b'{"inputs": {"epochs": 1.5}}', "input epochs must be int, got 1.5"),
    ],
)
async def test_resume_rejects_bad_bodies(jp_fetch, session_dir, body, message):
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("interactive", "resume", method="POST", body=body)
    assert e.value.code == 400
    assert message in json.loads(e.value.response.body)["message"]
    assert not (session_dir / "outcome.json").exists()
    status = await get_json(jp_fetch, "interactive", "status")
    assert status["state"] == "waiting"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "resume"), ("DELETE", "heartbeat"), ("POST", "status"), ("PUT", "resume")],
)
async def test_wrong_method_is_405(jp_fetch, method, path):
    body = b"" if method in ("POST", "PUT") else None
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch(
            "interactive", path, method=method, body=body, allow_nonstandard_methods=True
        )
    assert e.value.code == 405


async def test_no_token_is_403(jp_fetch):
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("interactive", "status", headers={"Authorization": ""})
    assert e.value.code == 403


async def test_resume_that_cannot_be_recorded_is_refused(jp_fetch, session_dir):
    import shutil

    shutil.rmtree(session_dir)
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("interactive", "resume", method="POST", body=b"")
    assert e.value.code == 500
    assert "cannot record the resume" in json.loads(e.value.response.body)["message"]
    status = await get_json(jp_fetch, "interactive", "status")
    assert status["state"] == "waiting"


async def test_status_names_the_notebook_and_warning(jp_fetch, jp_root_dir, session_dir):
    body = await get_json(jp_fetch, "interactive", "status", params={"client": "tab-1"})
    assert body["stop_reason"] is None and body["save_deadline"] is None
    assert body["notebook_path"] is None  # train.ipynb is not under the server's root
    assert body["idle"]["warning_seconds"] == 1800  # capped at half of max_idle_seconds
    assert body["problems"] == []


async def test_broken_context_is_named_and_resume_still_works(jp_fetch, session_dir):
    (session_dir / "context.json").write_text("{not json")
    body = await get_json(jp_fetch, "interactive", "status")
    assert body["task"] is None
    assert "context.json" in body["problems"][0]
    r = await jp_fetch("interactive", "resume", method="POST", body=b'{"inputs": {"x": 1}}')
    assert r.code == 202
    assert json.loads((session_dir / "outcome.json").read_text())["inputs"] == {"x": 1}


async def test_saved_reports_are_checked(jp_fetch):
    with pytest.raises(HTTPClientError) as e:  # only while stopping (issue 22)
        await jp_fetch(
            "interactive",
            "saved",
            method="POST",
            body=json.dumps({"client": "c", "saved": ["a.ipynb"], "failed": []}),
        )
    assert e.value.code == 409
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("interactive", "saved", method="POST", body=b'{"saved": 3}')
    assert e.value.code == 400


async def test_the_status_page_renders_without_jupyterlab(jp_fetch):
    r = await jp_fetch("interactive", method="GET")
    page = r.body.decode()
    assert r.code == 200 and "text/html" in r.headers["Content-Type"]
    assert "Interactive task <code>train</code>" in page
    assert "Keep working" in page and "Resume task" in page
    assert "X-XSRFToken" in page  # the buttons' POSTs carry the XSRF token
