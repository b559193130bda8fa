"""client.py: the REST client against a real server, and a server that is gone."""

from __future__ import annotations

import pytest

from interactive_ext.client import Client, Unreachable


def test_client_against_a_real_server(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server()
    url = f"{server.url}/lab/tree/x.ipynb?token={server.token}"
    client = Client.from_url(url)
    assert client.server_url == f"{server.url}/"
    assert client.token == server.token
    reply = client.status()
    assert reply.status == 200 and reply.body["state"] == "waiting"
    assert reply.body["task"] is None  # a plain server with the extension
    assert client.answers()
    assert Client(client.server_url, "wrong").status().status == 403
    with pytest.raises(ValueError, match="http"):
        Client.from_url("ftp://x")
    server.proc.terminate()
    server.wait_exit(30)
    with pytest.raises(Unreachable, match="no server answers"):
        client.status(timeout=2)
