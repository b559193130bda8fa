"""Session pickle files: equal data back, shared copy-on-write mappings, clear errors."""

from __future__ import annotations

import collections
import hashlib
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from interactive_ext.session import pickles
from interactive_ext.session.pickles import HEADER, PickleFileError

MIB = 2**20
Point = collections.namedtuple("Point", "x y")


def big(mib: int = 4, dtype: Any = np.float64) -> np.ndarray:
    """An array of mib MiB whose values differ (so a wrong offset shows)."""
    return np.arange(mib * MIB // np.dtype(dtype).itemsize).astype(dtype)


def digest(path: Path) -> str:
    """What the file holds, as a hash."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mapping_of(arr: np.ndarray) -> str:
    """The /proc/self/maps line of the mapping that holds arr's data ('' when none does)."""
    address = arr.__array_interface__["data"][0]
    for line in Path("/proc/self/maps").read_text().splitlines():
        start, end = (int(x, 16) for x in line.split()[0].split("-"))
        if start <= address < end:
            return line
    return ""


def assert_same(a: Any, b: Any) -> None:
    """a and b are equal, arrays by value, dtype and layout-independent shape."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    else:
        assert type(a) is type(b) and a == b


ARRAYS = {
    "float64": big(1),
    "float32": big(1, np.float32),
    "int8": np.arange(MIB, dtype=np.int64).astype(np.int8),
    "uint16": big(1, np.uint16),
    "complex128": big(1).astype(np.complex128) * 1j,
    "bool": np.arange(MIB) % 3 == 0,
    "datetime64": np.arange(100_000).astype("datetime64[s]"),
    "structured": np.zeros(50_000, dtype=[("a", "<i4"), ("b", "<f8")]),
    "2d": big(2).reshape(512, -1),
}
NONCONTIGUOUS = {
    "strided": big(2)[::3],
    "transposed": big(2).reshape(512, -1).T,
    "fortran": np.asfortranarray(big(2).reshape(512, -1)),
    "column": big(2).reshape(-1, 4)[:, 1],
}
PLAIN = {
    "none": None,
    "empty": {},
    "text": "héllo",
    "number": 3.5,
    "nested": {"a": [1, 2, (3, 4)], "b": {5, 6}},
    "tuple": Point(1, 2),
    "bytes": os.urandom(3 * MIB),
    "bytearray": bytearray(os.urandom(3 * MIB)),
    "small_bytes": b"abc",
}


@pytest.mark.parametrize("name", [*ARRAYS, *NONCONTIGUOUS, *PLAIN])
def test_round_trip(tmp_path: Path, name: str) -> None:
    obj = {**ARRAYS, **NONCONTIGUOUS, **PLAIN}[name]
    pickles.dump(obj, tmp_path / "x.pkl")
    assert_same(obj, pickles.load(tmp_path / "x.pkl"))


def test_round_trip_of_many_small_objects_stays_compact(tmp_path: Path) -> None:
    obj = {f"k{i}": (i, f"v{i}", np.arange(i % 7)) for i in range(100_000)}
    pickles.dump(obj, tmp_path / "x.pkl")
    back = pickles.load(tmp_path / "x.pkl")
    assert list(back) == list(obj)
    assert back["k99999"][:2] == (99999, "v99999")
    np.testing.assert_array_equal(back["k13"][2], np.arange(6))
    plain = len(pickle.dumps(obj, protocol=5))
    assert (tmp_path / "x.pkl").stat().st_size < plain + HEADER + 100  # nothing padded


def test_round_trip_of_a_pandas_frame(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": big(2), "b": big(2, np.int64), "c": ["x", "y"] * (MIB // 8)})
    pickles.dump(frame, tmp_path / "x.pkl")
    back = pickles.load(tmp_path / "x.pkl")
    pd.testing.assert_frame_equal(frame, back)
    assert str(tmp_path / "x.pkl") in mapping_of(back["a"].to_numpy())


def test_big_array_is_backed_by_the_mapping_and_outlives_it(tmp_path: Path) -> None:
    path = tmp_path / "x.pkl"
    pickles.dump({"big": big(8), "small": np.arange(10)}, path)
    loaded = pickles.load(path)
    arr = loaded["big"]
    assert not arr.flags.owndata and arr.flags.writeable and arr.flags.aligned
    line = mapping_of(arr)
    assert line.endswith(str(path)), line  # the file's own pages, not a copy
    assert " r-xp " not in line and line.split()[1][3] == "p", line  # private mapping
    assert arr.__array_interface__["data"][0] % pickles.ALIGN == 0
    del loaded
    path.unlink()
    np.testing.assert_array_equal(arr[-3:], big(8)[-3:])  # the mapping lives with the array


def test_dump_is_private_atomic_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "files" / "x.pkl"
    path.parent.mkdir()
    pickles.dump({"a": big(2)}, path)
    first = pickles.load(path)["a"]
    pickles.dump({"a": big(2) + 1}, path)  # replaced while the old one is mapped
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["x.pkl"]
    np.testing.assert_array_equal(first, big(2))
    np.testing.assert_array_equal(pickles.load(path)["a"], big(2) + 1)


def test_a_failed_dump_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "files" / "x.pkl"
    path.parent.mkdir()
    pickles.dump({"a": 1}, path)
    with pytest.raises((TypeError, pickle.PicklingError)):
        pickles.dump({"big": big(2), "lock": __import__("threading").Lock()}, path)
    assert pickles.load(path) == {"a": 1}
    assert [p.name for p in path.parent.iterdir()] == ["x.pkl"]


LOAD_AND_WRITE = """
import sys
from interactive_ext.session import pickles
arr = pickles.load(sys.argv[1])["a"]
print(arr[0], arr[-1], flush=True)
arr[:] = -1
print(arr[0], flush=True)
"""


def test_writes_into_a_loaded_array_stay_in_its_process(tmp_path: Path) -> None:
    path = tmp_path / "x.pkl"
    original = big(4)
    pickles.dump({"a": original}, path)
    before = digest(path)
    mine = pickles.load(path)["a"]
    mine[:] = 7.0  # every page of it
    assert digest(path) == before
    np.testing.assert_array_equal(pickles.load(path)["a"], original)
    done = subprocess.run(
        [sys.executable, "-c", LOAD_AND_WRITE, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    # the other process saw the file (not this process's writes), and its write stayed there
    assert done.stdout.split() == [str(original[0]), str(original[-1]), "-1.0"]
    assert (mine == 7.0).all()
    assert digest(path) == before


def damaged(tmp_path: Path, how: str) -> Path:
    """A file damaged in one way."""
    path = tmp_path / "x.pkl"
    pickles.dump({"a": big(1), "b": big(1, np.int32), "c": "text"}, path)
    data = bytearray(path.read_bytes())
    if how.startswith("truncated"):
        data = data[: {"truncated-end": -1, "truncated-header": 20, "truncated-mid": MIB}[how]]
    elif how == "empty":
        data = bytearray()
    elif how == "corrupt-header":
        data[12] ^= 0xFF  # the buffer count
    elif how == "corrupt-table":
        data[-10] ^= 0x01
    elif how == "wrong-magic":
        data[:8] = b"PK\x03\x04abcd"
    elif how == "corrupt-pickle":
        data[HEADER] = 0xFF  # not a pickle opcode
    elif how == "appended":
        data += b"junk"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("truncated-end", "truncated: .* bytes, the header says"),
        ("truncated-mid", "truncated: .* bytes, the header says"),
        ("truncated-header", "truncated: 20 bytes"),
        ("empty", "is empty"),
        ("corrupt-header", "corrupt header"),
        ("corrupt-table", "corrupt buffer table"),
        ("wrong-magic", "not a session pickle"),
        ("corrupt-pickle", "corrupt pickle data"),
        ("appended", "longer than written"),
    ],
)
def test_a_damaged_file_is_a_clear_error(tmp_path: Path, how: str, message: str) -> None:
    path = damaged(tmp_path, how)
    with pytest.raises(PickleFileError, match=message) as info:
        pickles.load(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError) and info.value.path == str(path)


def test_a_symlink_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.pkl"
    pickles.dump({"a": 1}, real)
    link = tmp_path / "x.pkl"
    link.symlink_to(real)
    with pytest.raises(PickleFileError, match="symbolic link") as info:
        pickles.load(link)
    assert str(link) in str(info.value)


def test_not_a_regular_file_and_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PickleFileError, match="not a regular file"):
        pickles.load(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(PickleFileError, match="not a regular file"):
        pickles.load(fifo)  # refused at once, never blocks waiting for a writer
    with pytest.raises(FileNotFoundError):
        pickles.load(tmp_path / "absent.pkl")


def test_a_plain_pickle_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "old.pkl"
    obj = {"a": big(1), "b": [1, "two"]}
    path.write_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
    assert_same(obj, pickles.load(path))
    path.write_bytes(pickle.dumps(obj, protocol=4)[:-100])
    with pytest.raises(PickleFileError, match="corrupt pickle data"):
        pickles.load(path)


# -- end to end: two kernels of one session -------------------------------------------

KERNEL_LOAD = """
import numpy as np
from interactive_ext import load_inputs
a = load_inputs()["a"]
address = a.__array_interface__["data"][0]
maps = open("/proc/self/maps").read().splitlines()
spans = [(m, *(int(x, 16) for x in m.split()[0].split("-"))) for m in maps]
where = [m for m, low, high in spans if low <= address < high]
print("mapped", where[0].endswith("/inputs.pkl"), a[1], flush=True)
"""


def printed(messages: list[dict]) -> str:
    """What a cell printed (its stdout), or its error."""
    for m in messages:
        if m["msg_type"] == "error":
            raise AssertionError("\n".join(m["content"]["traceback"]))
    return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")


def test_a_write_in_one_kernel_is_not_seen_by_another(
    tmp_path: Path, start_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness import execute, start_kernel
    from interactive_ext.session.directory import Session

    session = Session.create(tmp_path)
    session.write_pickle("inputs.pkl", {"a": big(4)})
    before = digest(session.path / "inputs.pkl")
    monkeypatch.delenv("INTERACTIVE_EXT_SESSION", raising=False)
    server = start_server(
        "--KernelProvisionerFactory.default_provisioner_name=interactive-provisioner",
        f"--InteractiveProvisioner.session_dir={session.path}",
    )
    first, second = start_kernel(server), start_kernel(server)
    for kernel in (first, second):
        assert printed(execute(server, kernel, KERNEL_LOAD)).split() == ["mapped", "True", "1.0"]
    assert printed(execute(server, first, "a[:] = -5.0; print(a[1], a.sum())")).split() == [
        "-5.0",
        str(-5.0 * len(big(4))),
    ]
    seen = printed(execute(server, second, "print(a[1], (a == load_inputs()['a']).all())"))
    assert seen.split() == ["1.0", "True"]
    assert digest(session.path / "inputs.pkl") == before
    np.testing.assert_array_equal(session.read_pickle("inputs.pkl")["a"], big(4))


def test_an_input_whose_class_is_not_loaded_here_reaches_notebooks_as_its_state(tmp_path):
    import types

    from interactive_ext.protocol import INPUTS
    from interactive_ext.session.directory import Session
    from interactive_ext.session.frames import Placeholder
    from interactive_ext.task.inputs import write_inputs

    class Trainer:  # as a Ray actor's class: pickle cannot find it by name without importing
        def __init__(self) -> None:
            self.base = 100
            self.inner = Trainer.__new__(Trainer)

    session = Session.create(tmp_path)
    assert write_inputs(session, {"self": Trainer(), "x": 3}) == []
    kept = session.read_pickle(INPUTS)
    assert isinstance(kept["self"], types.SimpleNamespace) and kept["self"].base == 100
    assert isinstance(kept["self"].inner, Placeholder) and kept["x"] == 3


ON_GPU = {"here": True}
"""Whether _to_device can rebuild here: the test turns it off, as a machine without a GPU."""


def _to_device(device: str) -> str:
    """A rebuild that fails where the device is missing (as a CUDA tensor's does)."""
    if not ON_GPU["here"]:
        raise RuntimeError(f"Attempting to deserialize object on {device} but there is none")
    return device


class OnDevice:
    """Pickled as a call of _to_device, like a tensor on a GPU."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_to_device, ("cuda:0",))


def test_lenient_loading_makes_named_placeholders_and_keeps_the_rest(tmp_path: Path) -> None:
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    (vendor / "gpu_only_mod.py").write_text(
        "class Thing:\n    def __init__(self, n):\n        self.n = n\n"
    )
    sys.path.insert(0, str(vendor))
    try:
        import gpu_only_mod

        inputs = {"thing": gpu_only_mod.Thing(7), "t": OnDevice(), "a": np.arange(20000.0)}
        pickles.dump(inputs, tmp_path / "inputs.pkl")
    finally:
        sys.path.remove(str(vendor))
        sys.modules.pop("gpu_only_mod", None)
    ON_GPU["here"] = False
    try:
        with pytest.raises(Exception, match=r"gpu_only_mod|cuda"):
            pickles.load(tmp_path / "inputs.pkl")
        loaded = pickles.load(tmp_path / "inputs.pkl", lenient=True)
    finally:
        ON_GPU["here"] = True
    assert repr(loaded["thing"]).startswith("<gpu_only_mod.Thing not loaded here: ")
    assert "No module named 'gpu_only_mod'" in repr(loaded["thing"])
    assert "on cuda:0 but there is none" in repr(loaded["t"])
    assert isinstance(loaded["t"], pickles.Missing)
    np.testing.assert_array_equal(loaded["a"], np.arange(20000.0))


def test_a_stream_past_the_memory_buffer_and_big_in_band_data_load_back(tmp_path: Path) -> None:
    many = [str(i) * 10 for i in range(300_000)]  # an in-band stream of several MiB
    obj = {"many": many, "raw": bytes(200_000), "text": "y" * 100_000, "fortran": big(2).T}
    pickles.dump(obj, tmp_path / "x.pkl")
    back = pickles.load(tmp_path / "x.pkl")
    assert back["many"] == many and back["raw"] == obj["raw"] and back["text"] == obj["text"]
    assert (back["fortran"] == obj["fortran"]).all()


def test_a_pickle_past_its_cap_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    folder = tmp_path / "session"
    folder.mkdir()
    for obj in ([str(i) * 10 for i in range(300_000)], {"a": big(2)}):  # in band, out of band
        with pytest.raises(pickles.TooBig):
            pickles.dump(obj, folder / "x.pkl", cap=100_000)
        assert list(folder.iterdir()) == []
