"""The package's shape: module and function sizes, one HTTP client, typed definitions; the
repository's: no import cycle, tests that import no benchmark."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

pytestmark = pytest.mark.quick  # reads files only: part of the inner loop

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "interactive_ext"
TREES = ("interactive_ext", "harness", "benchmarks", "tests")
"""The repository's Python: the package, the test harness, the benchmarks, the tests."""
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
    from interactive_ext.child.launcher import ServerProcess, ServerSpec
    from interactive_ext.server.app import InteractiveApp
    from interactive_ext.server.checkpoints import SessionCheckpoints
    from interactive_ext.server.provisioner import InteractiveProvisioner
    from interactive_ext.session.directory import Session

    config = ServerProcess(ServerSpec(Session.create(tmp_path), str(tmp_path))).config()
    for cls in (InteractiveApp, InteractiveProvisioner, SessionCheckpoints):
        declared = set(cls.class_trait_names(config=True))
        assert set(config[cls.__name__]) <= declared, (cls.__name__, config[cls.__name__])


def test_defaults_are_defined_once() -> None:
    """The server's traits take their defaults from the decorator's options."""
    from interactive_ext.options import DEFAULTS
    from interactive_ext.server.app import InteractiveApp

    traits = InteractiveApp.class_traits()
    for name in ("max_idle_seconds", "max_lifetime_seconds"):
        assert traits[name].default_value == getattr(DEFAULTS, name)


SUBPACKAGES = ("cli", "task", "child", "server", "session")
"""The folders, one per process and role; imports go from left to right (server: to session)."""
ALLOWED = {
    "cli": {"task", "child", "session"},
    "task": {"child", "session"},
    "child": {"session"},
    "server": {"session"},
    "session": set(),
}


def module_name(path: Path, root: Path = ROOT) -> str:
    """interactive_ext.a.b for interactive_ext/a/b.py (a package for __init__.py)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each module's imports of the package's modules, lazy ones included (read from the AST)."""
    names = {module_name(p): p for p in modules()}
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found = imported(path, package, names)
        graph[name] = {m for m in found if m in names and m != name}
    return graph


def test_no_import_cycle() -> None:
    """No cycle inside the package, lazy imports included."""
    import graphlib

    try:
        graphlib.TopologicalSorter(import_graph()).prepare()
    except graphlib.CycleError as e:
        raise AssertionError(f"import cycle: {' -> '.join(e.args[1])}") from None


def group_of(name: str) -> str | None:
    """The sub-package a module lives in, or None for the shared leaves at the top."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in SUBPACKAGES else None


def test_imports_between_folders_go_one_way() -> None:
    """cli -> task -> child -> session -> leaves; server -> session -> leaves; leaves import
    no folder (the package's __init__ and kernel.py, the public API, are the entry points)."""
    wrong = []
    for name, deps in import_graph().items():
        here = group_of(name)
        for dep in deps:
            there = group_of(dep)
            if there is None or there == here:
                continue
            if here is None:
                if name not in ("interactive_ext", "interactive_ext.kernel"):
                    wrong.append(f"{name} -> {dep}")
            elif there not in ALLOWED[here]:
                wrong.append(f"{name} -> {dep}")
    assert not wrong, wrong


def test_the_folders_are_the_architecture() -> None:
    """At most 8 modules at the top besides __init__.py; the sub-packages are there."""
    top = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(top) <= 8, top
    subs = [p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()]
    assert set(SUBPACKAGES) <= set(subs), subs


MAX_APP_LINES = 200
"""server/app.py wires the parts; the session's state lives in server/lifecycle.py."""


def test_the_app_only_wires() -> None:
    lines = len((PACKAGE / "server" / "app.py").read_text().splitlines())
    assert lines <= MAX_APP_LINES, f"server/app.py has {lines} lines (at most {MAX_APP_LINES})"


def is_state(node: ast.expr) -> bool:
    """`state`, `x.state`, `State.X` or `x.state.value` (what a state comparison names)."""
    if isinstance(node, ast.Attribute) and node.attr == "value":
        return True  # an enum's value compared with a string is the string comparison again
    if isinstance(node, ast.Name):
        return node.id == "state"
    if isinstance(node, ast.Attribute):
        base = node.value
        return node.attr == "state" or (isinstance(base, ast.Name) and base.id == "State")
    return False


def string_state_comparisons(source: str) -> list[int]:
    """The lines of source that compare a state with a string literal (not as enum members)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        for a, b in itertools.pairwise(sides):
            for one, other in ((a, b), (b, a)):
                literal = isinstance(other, ast.Constant) and isinstance(other.value, str)
                if literal and is_state(one):
                    found.append(node.lineno)
    return found


def test_states_are_compared_as_enum_members() -> None:
    """No `state == "stopping"`, `State.X != "x"` or `.value == "x"`: members, with `is`."""
    assert string_state_comparisons('if app.state != "stopping": pass') == [1]
    assert string_state_comparisons('ok = "waiting" == State.WAITING') == [1]
    assert string_state_comparisons('ok = reason.value == "resumed"') == [1]
    assert string_state_comparisons("ok = app.state is State.STOPPING") == []
    wrong = {
        f"{p.relative_to(PACKAGE)}:{line}"
        for p in modules()
        for line in string_state_comparisons(p.read_text())
    }
    assert not wrong, f"states compared with strings: {sorted(wrong)}"


def test_routes_are_named_in_protocol_only() -> None:
    """No `/interactive/...` path written out in code (docstrings may say it): protocol.py's
    route() builds each, for the handlers, the activity rules, the page and the clients."""
    wrong = []
    for path in modules():
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and "interactive/" in node.value
                and "interactive_ext" not in node.value
            ):
                wrong.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not wrong, f"routes written out: {wrong}"


def repository_modules() -> dict[str, Path]:
    """Every Python module of TREES by its dotted name from the root; a module of tests/ also
    by the name pytest imports it as (from its first folder up that is not a package)."""
    names: dict[str, Path] = {}
    for tree in TREES:
        for path in sorted((ROOT / tree).rglob("*.py")):
            if "site" in path.relative_to(ROOT).parts:  # tests/mutations/site: mutants' copies
                continue
            names[module_name(path, ROOT)] = path
            if tree == "tests":
                base = path.parent
                while (base / "__init__.py").exists():
                    base = base.parent
                names.setdefault(module_name(path, base), path)
    return names


def repository_graph() -> dict[str, set[str]]:
    """Each module's imports of the repository's modules (by path), lazy ones included."""
    names = repository_modules()
    by_path = {path: module_name(path, ROOT) for path in names.values()}
    graph: dict[str, set[str]] = {}
    for path, name in by_path.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = imported(path, package, names)
        graph[name] = {by_path[names[m]] for m in found if m in names} - {name}
    return graph


def imported(path: Path, package: str, modules: dict[str, Path]) -> set[str]:
    """The dotted names a module imports (X.NAME for `from X import NAME` when X.NAME is one of
    modules, else X)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in modules else base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_no_import_cycle_in_the_repository() -> None:
    """No cycle among the package, the harness, the benchmarks and the tests (lazy imports
    included): benchmarks/ among its own modules included."""
    import graphlib

    try:
        graphlib.TopologicalSorter(repository_graph()).prepare()
    except graphlib.CycleError as e:
        raise AssertionError(f"import cycle: {' -> '.join(e.args[1])}") from None


def test_no_test_imports_a_benchmark() -> None:
    """Tests and the harness import no module of benchmarks/ (the harness is what both share),
    and the harness imports no test."""
    wrong = [
        f"{name} -> {dep}"
        for name, deps in repository_graph().items()
        for dep in deps
        if (name.startswith(("tests.", "harness")) and dep.startswith("benchmarks"))
        or (name.startswith("harness") and dep.startswith("tests"))
    ]
    assert not wrong, wrong


def test_no_test_module_imports_another() -> None:
    """A test module imports no test module (what tests share lives in the harness or in a
    helper module of tests/): imported test functions would run twice, and a reader would
    look for a helper among tests."""
    wrong = [
        f"{name} -> {dep}"
        for name, deps in repository_graph().items()
        for dep in deps
        if name.startswith("tests.")
        and dep.startswith("tests.")
        and dep.rpartition(".")[2].startswith("test_")
    ]
    assert not wrong, wrong
