"""Findings 1, 2, 6, 8 of the security review: what a hostile server can make a fetch do."""

from __future__ import annotations

import ipaddress
import sys
import time

import pytest

from pipeline.addresses import ANY, PUBLIC, embedded_ipv4, is_public, refuse_private_source
from pipeline.config import FetchConfig
from pipeline.errors import InvalidSourceError, RejectedContent, TransientError
from pipeline.fetch import fetch
from pipeline.sources import normalise_source_url
from tests.hostile.rss import run_measured

FAST = FetchConfig(timeout_s=5.0, connect_timeout_s=2.0, attempts=1, backoff_s=0.01)


# --- finding 1: SSRF through redirects ----------------------------------------------------------


def test_hostile_public_source_redirected_to_loopback_is_refused_before_connecting(public_loopback, hostile, inside):
    to_inside = inside.url("/article")
    with pytest.raises(RejectedContent, match="127.0.0.1"):
        fetch(hostile.url(f"/redirect?to={to_inside}", host="news.public.test"), previous=None, config=FAST,
              policy=PUBLIC)
    assert hostile.requests and inside.requests == []  # the inside service never saw a request


def test_hostile_public_source_redirected_to_link_local_metadata_is_refused(public_loopback, hostile):
    started = time.monotonic()
    with pytest.raises(RejectedContent, match="169.254.169.254"):
        fetch(hostile.url("/redirect?to=http://169.254.169.254/latest/meta-data/", host="news.public.test"),
              previous=None, config=FAST, policy=PUBLIC)
    assert time.monotonic() - started < 2  # refused, not tried and timed out


def test_hostile_public_source_fetches_a_public_page(public_loopback, hostile):
    fetched = fetch(hostile.url("/article", host="news.public.test"), previous=None, config=FAST, policy=PUBLIC)
    assert b"6,200 won" in fetched.body


def test_hostile_public_source_naming_an_inside_address_directly_is_refused(public_loopback, inside):
    with pytest.raises(RejectedContent, match="address policy"):
        fetch(inside.url("/article"), previous=None, config=FAST, policy=PUBLIC)
    assert inside.requests == []


def test_hostile_server_side_sources_may_still_reach_loopback(public_loopback, hostile, inside):
    """`nkpipe sources add` sources keep today's reach (policy any)."""
    fetched = fetch(hostile.url(f"/redirect?to={inside.url('/article')}"), previous=None, config=FAST, policy=ANY)
    assert b"Market report" in fetched.body and inside.requests == ["/article"]


def test_hostile_name_that_resolves_slowly_is_refused_not_waited_for(monkeypatch):
    import socket

    from pipeline import addresses

    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: time.sleep(30) or [])
    monkeypatch.setattr(addresses, "RESOLVE_TIMEOUT_S", 0.5)
    started = time.monotonic()
    with pytest.raises(RejectedContent, match="does not resolve"):
        fetch("http://slow.example/x", previous=None, config=FAST, policy=PUBLIC)
    with pytest.raises(InvalidSourceError, match="does not resolve"):
        refuse_private_source("http://slow.example/x")  # the web form fails closed too
    assert time.monotonic() - started < 5


# --- finding 2: compression bombs ---------------------------------------------------------------

BOMB_SCRIPT = """
import sys
from pipeline.addresses import ANY
from pipeline.config import FetchConfig
from pipeline.errors import RejectedContent
from pipeline.fetch import fetch
try:
    fetch(sys.argv[1], previous=None, config=FetchConfig(attempts=1), policy=ANY)
except RejectedContent as exc:
    print("rejected:", exc)
"""


@pytest.mark.parametrize("path, reason", [("/gzip-stacked", "stacked"), ("/gzip-bomb", "larger than")])
def test_hostile_compression_bombs_are_refused_within_a_memory_ceiling(hostile, path, reason):
    done, peak_mib = run_measured([sys.executable, "-c", BOMB_SCRIPT, hostile.url(path)], timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"rejected:" in done.stdout and reason in done.stdout
    assert peak_mib < 400, f"the fetch peaked at {peak_mib:.0f} MiB"  # the body limit is 20 MB decoded


def test_hostile_one_gzip_layer_is_decoded(hostile):
    import gzip

    from tests.hostile.server import send

    hostile.routes["/gz"] = lambda conn, target, headers: send(
        conn, "200 OK", {"Content-Type": "text/plain", "Content-Encoding": "gzip"}, gzip.compress(b"plain words " * 100))
    assert fetch(hostile.url("/gz"), previous=None, config=FAST).body == b"plain words " * 100


# --- finding 6: a slow drip has a deadline ------------------------------------------------------


def test_hostile_slow_drip_ends_at_the_deadline_and_the_source_budget(hostile):
    config = FetchConfig(timeout_s=20.0, attempts=3, backoff_s=0.01, deadline_s=1.5, source_budget_s=2.5)
    started = time.monotonic()
    with pytest.raises(TransientError, match="deadline|budget"):
        fetch(hostile.url("/drip?every=0.3"), previous=None, config=config)
    assert time.monotonic() - started < 6  # two tries of 1.5 s, then the 2.5 s budget stops the third


# --- finding 8: IPv6 ------------------------------------------------------------------------


def test_hostile_ipv6_literals_keep_their_brackets():
    assert normalise_source_url("http://[::1]:8080/x") == "http://[::1]:8080/x"
    assert normalise_source_url("HTTP://[2001:DB8::1]/a") == "http://[2001:db8::1]/a"


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "169.254.169.254", "100.64.0.1", "0.0.0.0", "240.0.0.1", "::1", "fe80::1", "fc00::1",
    "::ffff:127.0.0.1", "::127.0.0.1", "2002:7f00:1::", "2002:a9fe:a9fe::1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::a00:1",
    "2001:0:a00:1::1", "100::1", "2001:db8::1",
])
def test_hostile_internal_addresses_and_ipv6_forms_embedding_them_are_not_public(address):
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700:4700::1111", "::ffff:93.184.215.14"])
def test_hostile_public_addresses_are_public(address):
    assert is_public(ipaddress.ip_address(address))


def test_hostile_embedded_ipv4_is_read_from_every_form():
    found = {str(a) for a in embedded_ipv4(ipaddress.ip_address("2002:7f00:1::"))}
    assert found == {"127.0.0.1"}
    assert {str(a) for a in embedded_ipv4(ipaddress.ip_address("64:ff9b::a9fe:a9fe"))} == {"169.254.169.254"}


def test_hostile_ipv6_loopback_source_is_fetched_when_allowed():
    import socket

    from tests.hostile.server import HostileServer

    try:
        server = HostileServer(host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    try:
        url = normalise_source_url(server.url("/article"))
        assert b"Market report" in fetch(url, previous=None, config=FAST, policy=ANY).body
        with pytest.raises(RejectedContent, match="::1"):
            fetch(url, previous=None, config=FAST, policy=PUBLIC)
    finally:
        server.stop()
    assert socket  # the module is used above to probe IPv6
