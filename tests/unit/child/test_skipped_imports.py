"""What the server child skips (lean.py): the server still works, and nothing installed needs it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

from interactive_ext.child.skipped_imports import SKIPPED_IMPORTS

SKIPPED_FORMATS = re.compile(r"""["']?format["']?\s*:\s*["']?iri(-reference)?["']?\s*[,}\n]""")


def test_skipped_modules_are_not_imported_and_the_server_still_imports():
    """After skip_imports(), jupyter_server imports, without the module and its format checks."""
    code = (
        "import sys, json\n"
        "from interactive_ext.child import skipped_imports as lean\n"
        "lean.skip_imports()\n"
        "from jupyter_server.serverapp import ServerApp\n"
        "import jsonschema\n"
        "print(json.dumps({'loaded': [m for m in lean.SKIPPED_IMPORTS if sys.modules.get(m)],\n"
        "  'iri': 'iri' in jsonschema.FormatChecker().checkers}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(out.stdout) == {"loaded": [], "iri": False}


def test_no_installed_schema_uses_the_formats_rfc3987_syntax_checks():
    """The claim of lean.py: no JSON schema installed with the server uses `iri` formats."""
    assert "rfc3987_syntax" in SKIPPED_IMPORTS
    roots = {Path(sysconfig.get_paths()["purelib"]), Path(sys.prefix) / "share" / "jupyter"}
    users = []
    for root in roots:
        for path in (p for ext in ("json", "yaml", "yml") for p in root.rglob(f"*.{ext}")):
            if "jsonschema" in path.parts or "jsonschema_specifications" in path.parts:
                continue  # the metaschemas and jsonschema's own tests define the formats
            try:
                if path.stat().st_size < 2_000_000 and SKIPPED_FORMATS.search(path.read_text()):
                    users.append(str(path))
            except (OSError, UnicodeDecodeError):
                continue
    assert users == []
