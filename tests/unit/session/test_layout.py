"""The edits' patch (changes.py's unified diffs) applied to the originals reproduces the edits."""

from __future__ import annotations

import pytest

from interactive_ext.session.changes import file_change
from interactive_ext.session.layout import apply_patch

OLD = "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\nf = 6\ng = 7\nh = 8\ni = 9\nj = 10\n"
NEW = "a = 1\nb = 20\nc = 3\nd = 4\ne = 5\nf = 6\ng = 7\nh = 8\ni = 9\nj = 10\nk = 11"


def _apply_all(originals: dict[str, str], patch: str) -> dict[str, str]:
    """The patch applied to the originals' texts."""
    texts = apply_patch({k: v.splitlines(True) for k, v in originals.items()}, patch)
    return {k: "".join(v) for k, v in texts.items()}


def test_modified_added_and_deleted_files_come_back_as_edited() -> None:
    originals = {"pkg/x.py": OLD, "gone.py": "x = 1\n"}
    patch = "".join(
        f.diff
        for f in (
            file_change("pkg/x.py", OLD.encode(), NEW.encode()),  # no newline at the end now
            file_change("new.py", None, b"def f():\n    return 1\n"),
            file_change("gone.py", b"x = 1\n", None),
        )
    )
    assert _apply_all(originals, patch) == {"pkg/x.py": NEW, "new.py": "def f():\n    return 1\n"}


def test_a_patch_that_does_not_fit_is_refused_naming_the_file() -> None:
    patch = file_change("pkg/x.py", OLD.encode(), NEW.encode()).diff
    with pytest.raises(ValueError, match=r"pkg/x\.py: the patch does not fit line"):
        _apply_all({"pkg/x.py": OLD.replace("b = 2", "b = 3")}, patch)
