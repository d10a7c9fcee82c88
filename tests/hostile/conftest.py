"""Fixtures of the hostile suite: the hostile server, and 127.0.0.2 playing a public address."""

from __future__ import annotations

import ipaddress

import pytest

from tests.hostile.server import HostileServer

PUBLIC_STAND_IN = ipaddress.ip_address("127.0.0.2")


@pytest.fixture
def public_loopback(monkeypatch):
    """127.0.0.2 counts as public, and the names *.public.test resolve to it; everything else as in real life."""
    from pipeline import addresses

    real_is_public, real_resolve = addresses.is_public, addresses.resolve
    monkeypatch.setattr(addresses, "is_public", lambda a: a == PUBLIC_STAND_IN or real_is_public(a))
    monkeypatch.setattr(addresses, "resolve",
                        lambda host, timeout_s=addresses.RESOLVE_TIMEOUT_S:
                        [PUBLIC_STAND_IN] if host.endswith(".public.test") else real_resolve(host, timeout_s))
    import pipeline.network

    monkeypatch.setattr(pipeline.network, "resolve", addresses.resolve)
    monkeypatch.setattr(pipeline.network, "refusal", addresses.refusal)


@pytest.fixture
def hostile():
    server = HostileServer()
    yield server
    server.stop()


@pytest.fixture
def inside():
    """A service only the machine itself should reach (127.0.0.1)."""
    server = HostileServer(host="127.0.0.1")
    yield server
    server.stop()
