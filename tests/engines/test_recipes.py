"""Docs that run: the recipes' Python and the README's Use section, executed from the Markdown.

Each ```python block runs as a script, as a person who copies it runs it, and every session it
opens is resumed from the CLI. An HTML comment right before a block says otherwise:
`<!-- not run: why -->` skips it, `<!-- run in a kernel of the session above -->` runs it in a
kernel of the previous block's session, `<!-- run as: COMMAND -->` saves the block under the file
COMMAND names and runs COMMAND, `<!-- run as: N ranks -->` runs it as N local ranks.
"""

from __future__ import annotations

import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import BIN, TIMEOUT, cli, engine_env, task_sessions

from harness import ServerProcess, execute, free_port, http, kill_tree, wait_for
from interactive_ext.protocol import RANK_SECRET_ENV

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"(?:<!--\s*(?P<note>.*?)\s*-->\s*\n)?```python\n(?P<code>.*?)```", re.S)


@dataclass
class Block:
    """A ```python block of a Markdown file and the note before it."""

    code: str
    note: str


def blocks(path: Path, section: str | None = None) -> list[Block]:
    """The Python blocks of a Markdown file (of one `## section` of it)."""
    text = path.read_text()
    if section is not None:
        text = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [Block(m["code"], m["note"] or "") for m in BLOCK.finditer(text)]


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Any]:
    """Factory: run argv in tmp_path, resume every session it opens; (exit code, output)."""
    procs: list[subprocess.Popen[bytes]] = []
    ray_tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short socket paths
    env = engine_env(tmp_path, RAY_TMPDIR=ray_tmp)

    def start(argv: list[str], **extra: str) -> subprocess.Popen[bytes]:
        out = open(tmp_path / f"out{len(procs)}.log", "wb")  # noqa: SIM115 - kept for the run
        procs.append(
            subprocess.Popen(
                argv, cwd=tmp_path, env={**env, **extra}, stdout=out, stderr=subprocess.STDOUT
            )
        )
        return procs[-1]

    def output() -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(tmp_path.glob("out*.log")))

    def finish(kernel_code: str | None = None) -> tuple[list[int], str]:
        """Resume each new session (after kernel_code ran in a kernel of the first) until done."""
        seen: set[str] = set()

        def step() -> bool:
            if all(p.poll() is not None for p in procs):
                return True
            for row in task_sessions(env):
                if row["url"] in seen:
                    continue
                seen.add(row["url"])
                if kernel_code is not None and len(seen) == 1:
                    run_in_kernel(row, kernel_code)
                else:
                    out = cli(env, "resume", "--url", row["url"])
                    assert out.returncode == 0, out.stderr + output()
            return False

        wait_for(step, 3 * TIMEOUT, "the block to finish", interval=0.5)
        return [p.returncode for p in procs], output()

    start.env = env  # type: ignore[attr-defined]
    start.finish = finish  # type: ignore[attr-defined]
    yield start
    for p in procs:
        kill_tree(p)
    shutil.rmtree(ray_tmp, ignore_errors=True)


def run_in_kernel(row: dict[str, Any], code: str) -> None:
    """Run code in a kernel of the session row names (it may resume the session)."""
    root, token = row["url"].split("?token=")
    port = int(root.rsplit(":", 1)[1].strip("/"))
    server = ServerProcess(None, port, token, Path(), Path())  # type: ignore[arg-type]
    kernel = http("POST", root + "api/kernels", token, {"name": "python3"})
    assert kernel.status == 201, kernel
    msgs = execute(server, kernel.body["id"], code, closing=True)
    errors = [m["content"] for m in msgs if m["msg_type"] == "error"]
    # resume() stops the server and its kernels, and its cell still ends without an error
    assert not errors, [e["ename"] for e in errors]


def run_blocks(tmp_path: Path, run: Any, found: list[Block]) -> list[str]:
    """Run each block as its note says; the outputs of the blocks that ran."""
    outputs = []
    for i, block in enumerate(found):
        note = block.note
        if note.startswith("not run:") or note.startswith("run in a kernel"):
            continue
        kernel = found[i + 1] if i + 1 < len(found) else None
        kernel_code = kernel.code if kernel and kernel.note.startswith("run in a kernel") else None
        if note.startswith("run as:"):
            command = note.split(":", 1)[1].strip()
            ranks = re.fullmatch(r"(\d+) ranks", command)
            if ranks:
                (tmp_path / "block.py").write_text(block.code)
                start_ranks(run, int(ranks[1]))
            else:
                argv = shlex.split(command)
                name = next(a for a in argv if a.endswith(".py"))
                (tmp_path / name).write_text(block.code)
                run([str(BIN / argv[0]), *argv[1:]])
        else:
            (tmp_path / "block.py").write_text(block.code)
            run([sys.executable, str(tmp_path / "block.py")])
        codes, output = run.finish(kernel_code)
        assert codes and all(c == 0 for c in codes), output
        outputs.append(output)
    return outputs


def start_ranks(run: Any, world: int) -> None:
    """block.py as `world` local ranks with torchrun's variables."""
    common = {
        "WORLD_SIZE": str(world),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port() - 1),  # rank 0 listens on MASTER_PORT + 1
        RANK_SECRET_ENV: secrets.token_hex(32),
    }
    for rank in range(world):
        run([sys.executable, "block.py"], **common, RANK=str(rank), LOCAL_RANK=str(rank))


def test_readme_use_section(tmp_path: Path, run: Any) -> None:
    found = blocks(ROOT / "README.md", "Use")
    assert len(found) >= 2
    (output,) = run_blocks(tmp_path, run, found)
    assert "Jupyter for task train" in output
    assert "{'epochs': 2, 'lr': 0.1}" in output  # save_inputs(epochs=2) in the kernel, resumed


@pytest.mark.timeout(400)
@pytest.mark.parametrize("recipe", ["ray", "dask", "flyte", "multi-process"])
def test_recipe(tmp_path: Path, run: Any, recipe: str) -> None:
    pytest.importorskip(
        {"ray": "ray", "dask": "distributed", "flyte": "flytekit"}.get(recipe, "json")
    )
    found = blocks(ROOT / "docs" / "recipes" / f"{recipe}.md")
    assert found, f"docs/recipes/{recipe}.md has no Python block"
    outputs = run_blocks(tmp_path, run, found)
    assert outputs, f"docs/recipes/{recipe}.md: every Python block is marked not run"
