"""`list --hub`: the sessions registered with a JupyterHub, after removing the dead entries."""

from __future__ import annotations

import argparse
import json
import sys

from ..session.hub import Hub, HubError
from . import exits
from .exits import UsageError

HUB_LIST_FLAG = (
    "--hub",
    {
        "nargs": "?",
        "const": "",
        "metavar": "URL",
        "help": "list the sessions registered with the JupyterHub at URL (its API, "
        "http://HUB:8081/hub/api; default: $INTERACTIVE_EXT_HUB), after removing the entries "
        "of sessions that are gone (token: $INTERACTIVE_EXT_HUB_TOKEN, else "
        "$JUPYTERHUB_API_TOKEN)",
    },
)


def cmd_list_hub(args: argparse.Namespace) -> int:
    """Remove the Hub's dead session entries; one line per live one: link, name, task, host."""
    hub = Hub.configured(args.hub or None)
    if hub is None:
        raise UsageError("--hub needs the Hub's API URL (or $INTERACTIVE_EXT_HUB)")
    try:
        removed = hub.sweep()
        sessions = hub.sessions()
    except HubError as e:
        return exits.fail(exits.SERVER, str(e), "list")
    for name in removed:
        print(f"removed {name}: its session is gone", file=sys.stderr)
    rows = [
        {"name": name, "url": hub.link(name), **(model.get("info") or {})}
        for name, model in sorted(sessions.items())
    ]
    if args.json:
        print(json.dumps(rows, indent=1))
        return exits.OK
    if not rows:
        print(f"no interactive task session is registered with {hub.api_url}", file=sys.stderr)
    for r in rows:
        print(f"{r['url']}  {r['name']}  {r.get('task') or '-'}  on {r.get('host', '?')}")
    return exits.OK
