"""Which network addresses a source may make nkpipe connect to.

Every source carries an address policy (``sources.address_policy``):

* ``public``: only public addresses. Sources added on the web page get it (unless
  ``[web] allow_private_sources = true``): an analyst must not make the server reach what only
  it can see (its own services on 127.0.0.1, the internal network, a cloud metadata service on
  169.254.169.254). ``nkpipe sources add`` gives it too when ``[fetch] private_addresses = false``.
* ``any``: any address (``nkpipe sources add`` by default: whoever runs it is on the server).

The policy is checked on the address actually connected to, for every hop of a redirect
(``pipeline.fetch`` connects only to an address it checked), and fails closed: a name that does
not resolve in time, or resolves to any non-public address, is refused. Public means globally
routable: not loopback, private, link-local, shared (100.64/10), reserved, multicast or
unspecified, and no IPv6 form that embeds such an IPv4 address (IPv4-mapped and -compatible,
6to4, NAT64, Teredo).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from urllib.parse import urlsplit

from pipeline.errors import InvalidSourceError

PUBLIC = "public"
ANY = "any"
POLICIES = (PUBLIC, ANY)
RESOLVE_TIMEOUT_S = 2.0  # getaddrinfo has no timeout of its own; a slow resolver must not hang a fetch

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
_TEREDO = ipaddress.ip_network("2001::/32")


def embedded_ipv4(address: Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, compatible, 6to4, NAT64, Teredo server and client)."""
    if address.version == 4:
        return []
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    value = int(address)
    if address.teredo:
        found += list(address.teredo)
    if value >> 32 == 0 and value > 1:  # ::a.b.c.d, the deprecated IPv4-compatible form
        found.append(ipaddress.IPv4Address(value))
    if any(address in network for network in _NAT64):
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if address in _SIX_TO_FOUR and address.sixtofour is None:  # pragma: no cover - sixtofour covers it
        found.append(ipaddress.IPv4Address((value >> 80) & 0xFFFFFFFF))
    return found


def is_public(address: Address) -> bool:
    """True when ``address`` is globally routable, and so is every IPv4 address it embeds."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d
        return is_public(mapped)
    if not address.is_global or address.is_multicast or address.is_reserved or address.is_unspecified:
        return False
    return all(is_public(inner) for inner in embedded_ipv4(address))


def parse_address(host: str) -> Address | None:
    """The address a host names literally ("127.0.0.1", "[::1]", "::1"), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def resolve(host: str, timeout_s: float = RESOLVE_TIMEOUT_S) -> list[Address]:
    """The addresses of ``host`` (numeric forms such as 2130706433 included); [] when none came in time."""
    literal = parse_address(host)
    if literal is not None:
        return [literal]
    found: list[str] = []

    def lookup() -> None:
        try:
            found.extend(info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP))
        except (OSError, UnicodeError):
            pass

    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        return []
    return [a for a in (parse_address(text) for text in list(found)) if a is not None]


def refusal(host: str, addresses: list[Address], policy: str) -> str | None:
    """Why ``policy`` refuses ``host`` at these addresses, or None when it may be reached."""
    if policy == ANY:
        return None if addresses else f"{host} does not resolve"
    if not addresses:
        return f"{host} does not resolve (in {RESOLVE_TIMEOUT_S:.0f} s); a public-only source must"
    internal = next((a for a in addresses if not is_public(a)), None)
    if internal is not None:
        return (f"{host} is or resolves to {internal}, an address inside the server's own network (loopback, "
                f"private, link-local or reserved), which this source's address policy ({PUBLIC}) refuses")
    return None


def refuse_private_source(url: str) -> None:
    """InvalidSourceError when the URL's host is not, or does not resolve only to, public addresses."""
    host = urlsplit(url).hostname
    if not host:
        return  # register_source explains what is wrong with the URL
    reason = refusal(host, resolve(host), PUBLIC)
    if reason is not None:
        raise InvalidSourceError(
            f"{url!r}: {reason}; the web page adds public addresses only. Register it on the server with "
            f"`nkpipe sources add`, or set [web] allow_private_sources = true")
