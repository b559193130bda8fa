"""What the server child skips that a bare `jupyter server` does, because a task session never
needs it. Each entry was measured (docs/benchmarks.md, figure 1); only the server child applies
this, never the task process or a kernel, whose code may need what is skipped here.
"""

from __future__ import annotations

import sys

SKIPPED_IMPORTS = {
    "rfc3987_syntax": (
        "jsonschema imports it, when installed (jsonschema[format-nongpl], which jupyter_events "
        "requires), to check the `iri` and `iri-reference` string formats, and builds 39 lark "
        "grammars while doing so: most of `import jupyter_server.serverapp` (0.5 s and more). "
        "No schema the server validates uses these formats; without the module jsonschema "
        "leaves them unchecked, as it does any format it has no checker for."
    ),
}
"""Modules the server child does not import: name -> why (import raises ImportError)."""


def skip_imports() -> None:
    """Make the modules of SKIPPED_IMPORTS unimportable in this process (the server child)."""
    for name in SKIPPED_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
