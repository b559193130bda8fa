"""The names shared across processes: the extension's routes, session files, environment."""

from __future__ import annotations

__version__ = "0.1.0"
"""The package's version (hatch reads it here; the extension reports it)."""

EXTENSION = "interactive"
"""The extension's name; its routes live under /EXTENSION/ (see route())."""

RESUME = "resume"
HEARTBEAT = "heartbeat"
STATUS = "status"
SAVED = "saved"
PAGE = ""
ENDPOINTS = (RESUME, HEARTBEAT, STATUS, SAVED, PAGE)
"""Every endpoint of the extension (frontend/src/routes.ts names the same; a test checks)."""

LIFECYCLE = "https://events.jupyter.org/interactive_ext/lifecycle/v1"
"""The schema id of the server's lifecycle events, which open tabs read."""

AUTH_RESOURCE = EXTENSION
"""The resource every handler of the extension is authorized for (an authorizer names it)."""


def route(endpoint: str) -> str:
    """The path of one of the extension's endpoints, relative to the server's base URL."""
    return f"{EXTENSION}/{endpoint}" if endpoint else EXTENSION


# -- files of the session directory ------------------------------------------------------
CONTEXT = "context.json"
INPUTS = "inputs.pkl"
SAVED_INPUTS = "saved_inputs.pkl"
SAVED_VALUES = "saved_inputs.json"
"""What save_inputs() stored, as the status shows it: name -> {"value", "json"}."""
RESULT = "result.pkl"
"""The task's result when it succeeded first (pause="after"), for load_result()."""
ERROR = "error.json"
EXCEPTION = "exception.pkl"
FRAMES = "frames.pkl"
"""The failure's frames with their locals (session/frames.py), for load_error()'s traceback."""
OUTCOME = "outcome.json"
READY = "server.json"
SERVER_LOG = "server.log"
ORIGINALS = "originals.bin"
"""The person's source files as they were at the task's start, back to back (changes.py)."""
ORIGINALS_INDEX = "originals.json"
"""Where each original is in originals.bin: {"root", "started", "files": {path: [...]}}."""
MARK = "session.json"
"""Written when a session directory is created: only a directory with it is a session (clean)."""
KEPT = "kept.json"
"""Why a session directory was kept (the task did not succeed), when, for which task."""
CONVERT_SOCKET = "convert.sock"
"""The task process's socket: the server asks it to convert a resume's overrides (conversion.py)."""
NOTIFY_FAILURES = "notify_failures.json"
"""The server's failed notifications by target ({target: count}), logged by the task at the stop."""
CHECKPOINTS = "checkpoints"
"""The folder of the server's file checkpoints, in the served tree's shape (checkpoints.py)."""
CONVERT_SECONDS = 60.0
"""Seconds the server waits for the task's conversion of a resume's overrides before it
refuses the resume (503); a client waits longer than this for the answer."""

# -- environment variables ---------------------------------------------------------------
SESSION_ENV = "INTERACTIVE_EXT_SESSION"
"""Set in the kernels of a session: the session directory (load_inputs() and friends read it)."""

PARENT_PID_ENV = "INTERACTIVE_EXT_PARENT_PID"
"""Set for the server child: the task process's pid (the child stops when it is gone)."""

READY_FILE_ENV = "INTERACTIVE_EXT_READY_FILE"
"""Set for the server child: the ready file it removes when it ends, if the task process cannot."""

SERVER_EXIT_CODES = {"resumed": 0, "idle": 83, "lifetime": 84}
"""The server child's exit code for each outcome reason: the task process learns why the server
stopped even when the outcome file could not be written (its session directory was removed)."""

ENABLE_ENV = "INTERACTIVE_EXT_ENABLE"
"""Overrides the decorator's `enable` (0 or 1) without a code change."""

SAVE_CHANGES_ENV = "INTERACTIVE_EXT_SAVE_CHANGES_TO"
"""Where each resume's patch is saved when the option save_changes_to is not given."""

PARK_TO_ENV = "INTERACTIVE_EXT_PARK_TO"
"""Where sessions are parked when the option park_to is not given (relaunches, a cluster)."""

PARKED = "parked.json"
"""In an opened session's directory: the parked manifest it came from (the parked mode)."""

RESUME_VIA = ("rest", "cli", "dialog", "resume()")
"""Where a resume's overrides may say they came from (the resume body's "via")."""

TOKEN_ENV = "JUPYTER_TOKEN"
"""Jupyter's own variable: the default token."""

RANK_SECRET_ENV = "INTERACTIVE_EXT_RANK_SECRET"
"""A multi-process job: the secret every rank shares (rank 0's outcome is authenticated by it)."""

RANK_ADDR_ENV = "INTERACTIVE_EXT_RANK_ADDR"
"""A multi-process job: HOST:PORT where rank 0 tells the other ranks its outcome."""

RANK_BIND_ENV = "INTERACTIVE_EXT_RANK_BIND"
"""A multi-process job: the address rank 0's port binds to (default: the HOST the ranks connect
to; 0.0.0.0 for every interface)."""

NOTIFY_ENV = "INTERACTIVE_EXT_NOTIFY"
"""Apprise URLs (separated by spaces or newlines) notified of every session, besides `notify`."""

K8S_SA_DIR_ENV = "INTERACTIVE_EXT_K8S_SA_DIR"
"""The service-account folder that says "this runs in a Kubernetes pod" (default: the standard
/var/run/secrets/kubernetes.io/serviceaccount; tests point it at a folder they make)."""

RAY_NAMESPACE = "interactive_ext"
"""The Ray namespace where each waiting session has a named actor (`list --ray` reads them)."""
RAY_ACTOR_PREFIX = "session-"
"""The name of a session's actor: this prefix and the session directory's name."""

HUB_ENV = "INTERACTIVE_EXT_HUB"
"""The JupyterHub API URL every waiting session registers with, when the option hub is not set."""
HUB_TOKEN_ENVS = ("INTERACTIVE_EXT_HUB_TOKEN", "JUPYTERHUB_API_TOKEN")
"""Where the token that manages the Hub's services is read, the first one set."""
HUB_SERVICE_PREFIX = "interactive-"
"""The start of a session's service name in the Hub: then the task and a short id."""
