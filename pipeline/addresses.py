"""Which hosts a source added through the web page may point to.

Adding a source makes the server fetch it on the next run. From the web page that would let
any analyst make the server reach what only it can see (its own services on 127.0.0.1, the
internal network, a cloud metadata service on 169.254.169.254), so the page refuses hosts that
are or resolve to a loopback, private, link-local or otherwise non-public address, unless
``[web] allow_private_sources = true``. ``nkpipe sources add`` is not limited: whoever runs
it is on the server already.

A host that does not resolve now is accepted: its fetch fails and is recorded as a problem on
the dashboard, which tells the analyst more than a refusal would (the name may resolve later).
The name is resolved again when fetched, so this check does not stop a DNS answer that changes
in between (rebinding); it stops the plain attempts.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from urllib.parse import urlsplit

from pipeline.errors import InvalidSourceError

RESOLVE_TIMEOUT_S = 2.0  # getaddrinfo has no timeout of its own; a slow resolver must not hang the page


def refuse_private_source(url: str) -> None:
    """InvalidSourceError when the URL's host is or resolves to a non-public address."""
    host = urlsplit(url).hostname
    if not host:
        return  # register_source explains what is wrong with the URL
    address = next((a for a in _addresses(host) if _is_internal(a)), None)
    if address is not None:
        raise InvalidSourceError(
            f"{url!r} points to {address}, an address inside the server's own network (loopback, private, "
            f"link-local or reserved); the web page refuses those. Register it on the server with "
            f"`nkpipe sources add`, or set [web] allow_private_sources = true")


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        return [ipaddress.ip_address(a.split("%", 1)[0]) for a in _resolve(host)]


def _resolve(host: str) -> list[str]:
    """The addresses of ``host`` (also numeric forms such as 2130706433), [] when it does not resolve in time."""
    found: list[str] = []

    def lookup() -> None:
        try:
            found.extend(info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP))
        except (OSError, UnicodeError):
            pass

    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(RESOLVE_TIMEOUT_S)
    return list(found)


def _is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is 127.0.0.1
    address = mapped or address
    return not address.is_global or address.is_multicast
