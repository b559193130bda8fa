"""In a Kubernetes pod: annotate and label the pod with the session's state, port and deadline.

With the `kubernetes` client (the `kubernetes` extra) and permission to patch its own pod, the
pod gets the annotations below and the label `interactive-ext/waiting=true` while the session
waits, so that `kubectl get pods -l interactive-ext/waiting=true` lists the waiting sessions.
Without the client or the permission, one line in the log says so; the session goes on. The
calls run in a background thread, bounded by a timeout. A listener of the lifecycle: WAITING and
every stop (STOPPING, with its reason) patch the pod.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from ..protocol import K8S_SA_DIR_ENV
from ..session.reaching import SA_DIR, pod
from .lifecycle import Lifecycle, Transition
from .states import State

log = logging.getLogger("interactive_ext")

LABEL = "interactive-ext/waiting"
PREFIX = "interactive-ext/"
TIMEOUT = 10.0


def patch_body(state: str, port: int, deadline: str | None, waiting: bool) -> dict[str, Any]:
    """The merge patch of the pod's metadata: state is "waiting" or the stop's reason."""
    return {
        "metadata": {
            "labels": {LABEL: "true" if waiting else None},
            "annotations": {
                PREFIX + "state": state,
                PREFIX + "port": str(port),
                PREFIX + "deadline": deadline or "",
            },
        }
    }


def _api() -> Any:
    """A CoreV1Api from the pod's service account (ImportError without the client)."""
    import kubernetes.client

    folder = Path(os.environ.get(K8S_SA_DIR_ENV) or SA_DIR)
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    if not host:
        raise OSError("KUBERNETES_SERVICE_HOST is not set")
    config = kubernetes.client.Configuration()
    config.host = f"https://{host}:{os.environ.get('KUBERNETES_SERVICE_PORT', '443')}"
    config.api_key = {"authorization": "Bearer " + (folder / "token").read_text().strip()}
    config.ssl_ca_cert = str(folder / "ca.crt")
    return kubernetes.client.CoreV1Api(kubernetes.client.ApiClient(config))


def _patch(state: str, port: int, deadline: str | None, waiting: bool, log: logging.Logger) -> None:
    """Patch the pod now (in the background thread); one line if it cannot."""
    here = pod()
    if here is None:
        return
    namespace, name = here
    try:
        api = _api()
    except ImportError:
        log.info(
            "pod %s/%s is not annotated: the kubernetes client is missing "
            "(pip install 'interactive_ext[kubernetes]')",
            namespace,
            name,
        )
        return
    except OSError as e:
        log.info("pod %s/%s is not annotated: no in-cluster access (%s)", namespace, name, e)
        return
    try:
        api.patch_namespaced_pod(
            name, namespace, patch_body(state, port, deadline, waiting), _request_timeout=TIMEOUT
        )
    except Exception as e:
        status = getattr(e, "status", None)
        why = "no permission to patch pods" if status in (401, 403) else f"{type(e).__name__}"
        log.info("pod %s/%s is not annotated (%s): %s", namespace, name, why, str(e)[:200])
        return
    log.info("pod %s/%s annotated: interactive-ext/state=%s", namespace, name, state)


def annotate(change: Transition, logger: logging.Logger | None = None) -> threading.Thread | None:
    """In a pod: patch it in the background, logging to logger (None elsewhere)."""
    if pod() is None:
        return None
    waiting = change.state is State.WAITING
    state = State.WAITING.value if waiting or change.reason is None else change.reason.value
    deadline = change.idle_deadline if waiting else None
    thread = threading.Thread(
        target=_patch,
        args=(state, change.port, deadline, waiting, logger or log),
        name="interactive-pod",
        daemon=True,
    )
    thread.start()
    return thread


class PodAnnotation:
    """The lifecycle's listener that annotates the pod (a no-op outside Kubernetes)."""

    def __init__(self, log: logging.Logger) -> None:
        """Log to log."""
        self.log = log
        self.thread: threading.Thread | None = None

    def subscribe(self, lifecycle: Lifecycle) -> None:
        """Listen to WAITING and STOPPING."""
        lifecycle.on(State.WAITING, self.changed)
        lifecycle.on(State.STOPPING, self.changed)

    def changed(self, change: Transition) -> None:
        """Patch the pod with the state entered."""
        self.thread = annotate(change, self.log)

    def flush(self, timeout: float) -> None:
        """Let the last patch finish, bounded: the server exits."""
        if self.thread is not None:
            self.thread.join(timeout)
