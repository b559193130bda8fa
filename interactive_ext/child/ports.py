"""The server's address: the port it can listen on (a free one for port 0), and how a URL or
a client on this machine names its host."""

from __future__ import annotations

import errno
import socket

from ..errors import ServerError


def connect_host(ip: str) -> str:
    """The address to reach a server bound to ip from this machine."""
    if ip in ("", "0.0.0.0", "*"):
        return "127.0.0.1"
    return "::1" if ip == "::" else ip


def url_host(ip: str) -> str:
    """ip as written in a URL (IPv6 in brackets)."""
    host = connect_host(ip)
    return f"[{host}]" if ":" in host else host


IP_FIX = (
    "set ip (--ip) to an address of this machine: 127.0.0.1 (reached from this machine only) "
    "or 0.0.0.0 (every address it has)"
)


def _bind_problem(e: OSError, ip: str, port: int) -> str:
    """What a failed bind of ip:port means for a person, and what to do."""
    if e.errno == errno.EADDRINUSE:
        return f"port {port} on {ip} is already in use; pass another port (port=0 picks a free one)"
    if e.errno == errno.EADDRNOTAVAIL:
        return f"address {ip} is not available on this machine (no interface has it); {IP_FIX}"
    return f"cannot listen on {ip} port {port}: {e.strerror}"


def listen_port(ip: str, port: int) -> int:
    """The port the server can listen on at ip, a free one for port 0; ServerError in one line
    saying why not: a name that does not resolve, another machine's address, a taken port.

    Binds as the server will (tornado: every address ip resolves to, SO_REUSEADDR), then lets go.
    """
    host = None if ip in ("", "*") else ip  # the server's "" and "*": every address
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as e:
        why = e.strerror if isinstance(e, OSError) else str(e)
        raise ServerError(
            f"cannot listen on {ip}: it is neither an IP address nor a host name that resolves "
            f"({why}); {IP_FIX}"
        ) from None
    for family, kind, proto, _, addr in dict.fromkeys(infos):
        try:
            s = socket.socket(family, kind, proto)
        except OSError:  # a family this machine lacks (IPv6 off): the server skips it too
            continue
        with s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                s.bind((addr[0], port, *addr[2:]))
            except OSError as e:
                if e.errno == errno.EADDRNOTAVAIL and host == "localhost" and ":" in str(addr[0]):
                    continue  # localhost's ::1 without IPv6, as tornado skips it
                raise ServerError(_bind_problem(e, ip, port)) from None
            port = port or int(s.getsockname()[1])
    return port
