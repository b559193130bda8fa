"""Typed records that cross a process boundary as JSON: context, outcome, ready info, error."""

from __future__ import annotations

import dataclasses
import enum
import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import SessionError

R = TypeVar("R", bound="Record")


class ValueEnum(str, enum.Enum):
    """An enum that reads as its value, as JSON files and the status write it."""

    def __str__(self) -> str:
        """The value."""
        return self.value


class Reason(ValueEnum):
    """Why the server stopped."""

    RESUMED = "resumed"
    IDLE = "idle"
    LIFETIME = "lifetime"
    KILLED = "killed"
    """A signal or a dead parent: never recorded as an outcome (the server's listeners hear it)."""


class Record:
    """JSON in and out, with a clear error for a file of the wrong shape."""

    @classmethod
    def from_json(cls: type[R], data: Any, source: str = "record") -> R:
        """Build the record from decoded JSON; SessionError names source if it does not fit."""
        if not isinstance(data, dict):
            raise SessionError(f"{source} is not a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        try:
            return cls(**{k: v for k, v in data.items() if k in names})
        except (TypeError, ValueError) as e:
            raise SessionError(f"{source} does not hold a valid {cls.__name__}: {e}") from None

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-able values."""
        data = dataclasses.asdict(self)  # type: ignore[call-overload]
        return {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in data.items()}


class Redefine(ValueEnum):
    """How a resume re-defines the task (and how a kernel loads it)."""

    MODULE = "module"
    """Its module is imported here: re-loaded in place (changed modules, as autoreload)."""
    FILE = "file"
    """A script or a function shipped by value: its source file's definitions only."""
    NOTEBOOK = "notebook"
    """Shipped by value, its file not on this machine: the starter notebook's definitions cell."""
    AS_IS = "as-is"
    """No source to re-define it from (a nested function, no file, nothing carried)."""


@dataclass
class TaskContext(Record):
    """What the task is: written by the task process, read by the server and the kernels."""

    module: str
    qualname: str
    source_file: str | None = None
    parameters: list[dict[str, Any]] = field(default_factory=list)
    """One object per parameter: name, annotation, default, value, json, schema (typecheck)."""
    var_keyword: bool = False
    notebook: str | None = None
    started: float = field(default_factory=time.time)
    pid: int = 0
    unpicklable: list[str] = field(default_factory=list)
    modules: dict[str, list[int]] = field(default_factory=dict)
    """The person's module files when the task started: path -> [mtime_ns, size] (reloader)."""
    redefine: Redefine = Redefine.MODULE
    source: str | None = None
    """The script's definitions carried with the task (Redefine.NOTEBOOK: the notebook cell)."""

    def __post_init__(self) -> None:
        """Accept parameters given by name only (older context files), the mode as its string."""
        self.parameters = [{"name": p} if isinstance(p, str) else p for p in self.parameters]
        self.redefine = Redefine(self.redefine)

    @property
    def names(self) -> list[str]:
        """The parameters' names."""
        return [str(p.get("name")) for p in self.parameters]

    @property
    def ref(self) -> str:
        """module:qualname."""
        return f"{self.module}:{self.qualname}"


@dataclass
class Outcome(Record):
    """Why the server stopped, and the input overrides of a resume (JSON values)."""

    reason: Reason
    inputs: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)
    unsaved: list[dict[str, Any]] = field(default_factory=list)
    """Documents a frontend could not save before the stop: {"path", "error"}."""
    via: str = "rest"
    """Where the resume came from: rest, cli, dialog or resume() (protocol.RESUME_VIA)."""

    def __post_init__(self) -> None:
        """Accept the reason as its string."""
        self.reason = Reason(self.reason)


@dataclass
class ReadyInfo(Record):
    """The server's ready file, in Jupyter's server-info shape (base_url is a path)."""

    url: str
    """The URL a person opens (the starter notebook's page), with the token."""
    server_url: str
    """The server's root URL, without the token."""
    base_url: str
    port: int
    token: str
    pid: int
    session_dir: str


@dataclass
class ErrorRecord(Record):
    """A failure of the task: type, message and traceback (error.json)."""

    type: str
    message: str
    traceback: str
