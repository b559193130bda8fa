"""protocol.py and the frontend's routes module (frontend/src/routes.ts) name the same routes."""

from __future__ import annotations

import re
from pathlib import Path

from interactive_ext import protocol

ROUTES_TS = Path(__file__).resolve().parents[2] / "frontend" / "src" / "routes.ts"
CONSTANT = re.compile(r"^export const (\w+) =\s*'([^']*)';", re.MULTILINE)


def test_the_frontend_routes_are_protocol_py_s() -> None:
    names = dict(CONSTANT.findall(ROUTES_TS.read_text()))
    assert names, f"no constants read from {ROUTES_TS}"
    for name, value in names.items():
        assert getattr(protocol, name, None) == value, f"routes.ts {name} = {value!r}"
    endpoints = {v for k, v in names.items() if k not in ("EXTENSION", "LIFECYCLE")}
    assert endpoints == set(protocol.ENDPOINTS), "routes.ts must name every endpoint"
    assert names["EXTENSION"] == protocol.EXTENSION and names["LIFECYCLE"] == protocol.LIFECYCLE
