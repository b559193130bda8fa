"""session/digest.py: digests computed while writing equal the files' bytes read back, a changed
file is hashed anew, and open checks BLAKE3 and (sessions parked before) SHA-256 entries."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from blake3 import blake3

from interactive_ext.session import digest, parked, pickles
from interactive_ext.session.destination import Location
from interactive_ext.session.directory import Session


def read_back(path: Path) -> str:
    """The BLAKE3 of the file's bytes as read from disk."""
    return blake3(path.read_bytes()).hexdigest()


VALUES: dict[str, Any] = {
    "no buffer": {"a": 1, "b": "text"},
    "buffers": {
        "x": np.arange(100_000, dtype=np.float64),  # out of band, padded to its alignment
        "small": np.ones(10),  # in band
        "y": np.ones((300, 300), dtype=np.int32),
        "z": b"\1" * 200_000,  # bytes stay in band
    },
    "a long stream": {"l": list(range(300_000)), "x": np.arange(50_000.0)},  # written in pieces
}


@pytest.mark.parametrize("name", list(VALUES))
def test_the_digest_fed_while_writing_is_the_files(tmp_path: Path, name: str) -> None:
    path = tmp_path / "x.pkl"
    feeder = digest.Feeder(blake3())
    pickles.dump(VALUES[name], path, digest=feeder)
    st = feeder.written
    assert st is not None and digest.identity(st) == digest.identity(os.stat(path))
    assert feeder.h.hexdigest() == read_back(path)
    with_digest = path.read_bytes()
    pickles.dump(VALUES[name], path)  # no digest asked: the same file
    assert path.read_bytes() == with_digest


def test_an_in_band_pickle_too_big_to_keep_gives_no_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(digest, "KEEP_MAX", 100_000)
    path = tmp_path / "x.pkl"
    feeder = digest.Feeder(blake3())
    pickles.dump(list(range(100_000)), path, digest=feeder)
    assert feeder.written is None and pickles.load(path) == list(range(100_000))


def test_a_session_keeps_its_pickles_digests_until_they_change(tmp_path: Path) -> None:
    session = Session.create(tmp_path)
    session.digests = True
    session.write_pickle("inputs.pkl", VALUES["buffers"])
    path = session.path / "inputs.pkl"
    assert digest.known(os.stat(path)) == read_back(path) == digest.of_file(path)

    dest = Location(str(tmp_path / "parks")).child("one")
    digest.remember(os.stat(path), "kept")  # the linked file's digest is the kept one: not read
    assert parked._copy(parked.Part("inputs.pkl", path), dest) == "kept"
    assert os.path.samefile(dest.path("inputs.pkl"), path)

    with open(path, "r+b") as f:  # changed after it was written: hashed anew
        f.seek(100)
        f.write(b"changed")
    assert digest.known(os.stat(path)) is None
    assert digest.of_file(path) == read_back(path) != "kept"
    other = Location(str(tmp_path / "parks")).child("two")
    assert parked._copy(parked.Part("inputs.pkl", path), other) == read_back(path)

    session.digests = False
    session.write_pickle("frames.pkl", [1, 2])
    assert digest.known(os.stat(session.path / "frames.pkl")) is None


@pytest.mark.parametrize("algorithm", ["blake3", "sha256"])
def test_open_checks_each_files_digest(tmp_path: Path, algorithm: str) -> None:
    where = Location(str(tmp_path / "parked"))
    data = b"the parked bytes" * 1000
    where.write_bytes("inputs.pkl", data)
    right = blake3(data) if algorithm == "blake3" else hashlib.sha256(data)
    manifest = {"files": {"inputs.pkl": {algorithm: right.hexdigest(), "size": len(data)}}}
    parked.fetch(where, manifest, tmp_path / "good", ["inputs.pkl"])
    assert (tmp_path / "good" / "inputs.pkl").read_bytes() == data

    manifest["files"]["inputs.pkl"][algorithm] = "0" * 64
    with pytest.raises(parked.Refused, match=r"inputs\.pkl was modified after it was parked"):
        parked.fetch(where, manifest, tmp_path / "bad", ["inputs.pkl"])
    assert not (tmp_path / "bad" / "inputs.pkl").exists()

    manifest["files"]["inputs.pkl"] = {"md5": "0", "size": len(data)}
    with pytest.raises(parked.Refused, match="no digest in the manifest"):
        parked.fetch(where, manifest, tmp_path / "none", ["inputs.pkl"])
