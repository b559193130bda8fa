"""The docs match the code: every trait, default and endpoint is documented."""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest
import yaml

from interactive_ext.server.app import InteractiveApp
from interactive_ext.server.config import InteractiveConfig

pytestmark = pytest.mark.quick  # reads files only: part of the inner loop

DOCS = Path(__file__).parent.parent / "docs"


def squash(text: str) -> str:
    return " ".join(text.split())


def test_every_trait_is_documented_with_its_default_and_help():
    doc = squash((DOCS / "configuration.md").read_text())
    for name, trait in InteractiveConfig.class_own_traits(config=True).items():
        default = trait.default()  # a List's default_value is Undefined; default() is its []
        row = f"| `{name}` | `{default!r}` | {squash(trait.help)}"
        assert row in doc, f"docs/configuration.md: {name} is missing or out of date"


def test_every_route_is_in_the_rest_reference_and_openapi():
    app = InteractiveApp()
    app.initialize_handlers()
    spec = yaml.safe_load((DOCS / "openapi.yaml").read_text())
    rest = (DOCS / "rest.md").read_text()
    for route, handler in app.handlers:
        methods = [m for m in ("get", "post") if m in vars(handler)]
        assert methods, route
        for method in methods:
            assert method in spec["paths"][route], f"openapi.yaml: {method} {route}"
            assert f"## `{method.upper()} {route}`" in rest, f"rest.md: {method} {route}"


def test_readme_names_the_ci_test_command():
    readme = (DOCS.parent / "README.md").read_text()
    ci = (DOCS.parent / ".ci" / "run").read_text()
    command = next(line for line in ci.splitlines() if "pytest" in line)
    assert command in readme


def test_every_decorator_option_is_in_the_task_guide():
    from interactive_ext.options import option_names

    guide = (DOCS / "task.md").read_text()
    for name in option_names():
        assert f"| `{name}` |" in guide, f"docs/task.md: the option {name} is not in the table"


def test_every_module_is_in_the_design_module_map():
    design = (DOCS / "design.md").read_text()
    package = DOCS.parent / "interactive_ext"
    for path in sorted(package.rglob("*.py")):
        if path.name in ("__init__.py", "__main__.py") and path.parent != package:
            continue
        name = path.relative_to(package).as_posix()
        assert f"`{name}`" in design, f"docs/design.md: {name} is not in the module map"


def test_every_run_flag_is_in_the_task_guide():
    from interactive_ext.options import option_names

    guide = squash((DOCS / "task.md").read_text())
    for name in option_names():
        flag = "--" + name.replace("_", "-")
        assert f"`{flag}" in guide, f"docs/task.md: the flag {flag} is not named"


def test_python_blocks_import_the_public_names_they_use():
    """A block a person copies into a cell runs: what it uses of interactive_ext, it imports."""
    import interactive_ext

    public = set(interactive_ext.__all__)
    for doc in [*sorted(DOCS.rglob("*.md")), DOCS.parent / "README.md"]:
        text = doc.read_text()
        for block in re.finditer(r"```python\n(.*?)```", text, re.S):
            try:
                tree = ast.parse(textwrap.dedent(block.group(1)))
            except SyntaxError:  # a side-by-side comparison, not code to run
                continue
            nodes = list(ast.walk(tree))
            imported = {
                a.asname or a.name
                for n in nodes
                if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in n.names
            }
            used = {n.id for n in nodes if isinstance(n, ast.Name)} & public
            line = text[: block.start()].count("\n") + 1
            assert used <= imported, f"{doc.name}:{line} uses {sorted(used - imported)} unimported"


def test_every_environment_variable_the_package_reads_is_documented():
    package = DOCS.parent / "interactive_ext"
    source = "".join(p.read_text() for p in package.rglob("*.py"))
    names = set(
        re.findall(r"""(?:environ|env)\.(?:get|pop)\(\s*["']([A-Z][A-Z0-9_]+)["']""", source)
    )
    names |= set(re.findall(r"""environ\[["']([A-Z][A-Z0-9_]+)["']\]""", source))
    names |= set(re.findall(r'^[A-Z0-9_]+_ENV = "([A-Z0-9_]+)"', source, re.M))
    names |= {n for pair in re.findall(r'\("([A-Z_]+)", "([A-Z_]+)"\),', source) for n in pair}
    assert {"INTERACTIVE_EXT_K8S_SA_DIR", "WORLD_SIZE", "RAY_ADDRESS"} <= names  # the scan works
    table = (DOCS / "configuration.md").read_text().split("## Environment variables", 1)[1]
    missing = sorted(n for n in names if f"`{n}`" not in table)
    assert not missing, f"docs/configuration.md's environment variables lack {missing}"
