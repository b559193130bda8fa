"""The package's shape: module and function sizes, one HTTP client, typed definitions."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "interactive_ext"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
HTTP_MODULES = {"urllib.request", "http.client"}


def modules() -> list[Path]:
    """The package's Python modules."""
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_over_the_limit() -> None:
    too_long = {
        p.name: n for p in modules() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"


def test_no_function_over_the_limit() -> None:
    too_long = {}
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_long[f"{path.name}:{node.name}"] = lines
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines: {too_long}"


def test_one_module_speaks_http() -> None:
    users = set()
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if HTTP_MODULES & set(names):
                users.add(path.name)
    assert users == {"client.py"}, users


def test_launcher_config_names_only_declared_traits(tmp_path: Path) -> None:
    """The keys the launcher writes for InteractiveApp are traits InteractiveApp declares."""
    from interactive_ext.app import InteractiveApp
    from interactive_ext.launcher import ServerProcess, ServerSpec
    from interactive_ext.provisioner import InteractiveProvisioner
    from interactive_ext.session import Session

    config = ServerProcess(ServerSpec(Session.create(tmp_path), str(tmp_path))).config()
    for cls in (InteractiveApp, InteractiveProvisioner):
        declared = set(cls.class_trait_names(config=True))
        assert set(config[cls.__name__]) <= declared, (cls.__name__, config[cls.__name__])


def test_defaults_are_defined_once() -> None:
    """The server's traits take their defaults from the decorator's options."""
    from interactive_ext.app import InteractiveApp
    from interactive_ext.options import DEFAULTS

    traits = InteractiveApp.class_traits()
    for name in ("max_idle_seconds", "max_lifetime_seconds"):
        assert traits[name].default_value == getattr(DEFAULTS, name)
