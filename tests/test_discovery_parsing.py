"""Feeds, sitemaps and listing pages in the formats outlets publish (tests/fixtures/feeds/, written in
those formats for these tests), recognised by their source type and read into links; bad input is a
clear skip with bounded work."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipeline.config import DiscoveryConfig
from pipeline.discovery import absolute_link, feed_links, listing_links, most_recent, next_check, sitemap_links
from pipeline.errors import RejectedContent
from pipeline.records import Link
from pipeline.source_types import detect_source_type

FEEDS = Path(__file__).parent / "fixtures" / "feeds"


def read(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


@pytest.mark.parametrize(("name", "content_type", "expected"), [
    ("kcnawatch_rss.xml", "application/rss+xml", "feed"),
    ("kcnawatch_rss.xml", "text/xml", "feed"),  # servers often call feeds text/xml
    ("yonhap_atom.xml", "application/atom+xml", "feed"),
    ("dailynk_feed.json", "application/json", "feed"),
    ("news_sitemap.xml", "application/xml", "sitemap"),
    ("sitemap_index.xml", "text/xml", "sitemap"),
    ("rodong_listing.html", "text/html", "html_page"),  # a listing page only when the analyst says so
])
def test_discovery_types_are_recognised_from_the_bytes(name, content_type, expected):
    assert detect_source_type(read(name), content_type, "article").name == expected


def test_discovery_named_listing_type_reads_html_and_refuses_a_feed():
    assert detect_source_type(read("rodong_listing.html"), "text/html", "article", "listing_page").name == "listing_page"
    with pytest.raises(RejectedContent, match="registered as a listing page"):
        detect_source_type(read("kcnawatch_rss.xml"), "application/rss+xml", "article", "listing_page")


def test_discovery_rss_links_are_absolute_without_tracking_and_dated():
    links = feed_links(read("kcnawatch_rss.xml"), "https://kcnawatch.example/feed/", "application/rss+xml")
    assert [(link.url, link.listed_date) for link in links] == [
        ("https://kcnawatch.example/newstream/1733350000-123456789/kim-jong-un-inspects-munitions-enterprise/",
         date(2026, 12, 4)),
        ("https://kcnawatch.example/newstream/1733340000-987654321/rodong-sinmun-editorial/", date(2026, 12, 4)),
        ("https://kcnawatch.example/newstream/1733330000-1/guid-only/", date(2026, 12, 3)),
    ]
    assert links[0].title == "Kim Jong Un Inspects Munitions Enterprise"


def test_discovery_atom_protocol_less_link_and_updated_date():
    links = feed_links(read("yonhap_atom.xml"), "https://en.yna.example/RSS/northkorea.xml", "application/atom+xml")
    assert [(link.url, link.listed_date) for link in links] == [
        ("https://en.yna.example/view/AEN20261205000351315", date(2026, 12, 4)),  # 00:51 KST is Dec 4 in UTC
        ("https://en.yna.example/view/AEN20261204004500315", date(2026, 12, 4)),
    ]


def test_discovery_json_feed_skips_items_without_an_address():
    links = feed_links(read("dailynk_feed.json"), "https://www.dailynk.example/english/feed.json", "application/json")
    assert [(link.url, link.listed_date) for link in links] == [
        ("https://www.dailynk.example/english/rice-prices-climb-in-hyesan/", date(2026, 12, 3)),
        ("https://www.dailynk.example/english/dollar-rate-nears-40000-won/", date(2026, 12, 1)),
    ]


def test_discovery_news_sitemap_keeps_its_own_host_and_publication_dates():
    links, is_index = sitemap_links(read("news_sitemap.xml"), "https://www.nknews.example/news-sitemap.xml")
    assert not is_index
    assert [(link.url, link.listed_date, link.role) for link in links] == [
        ("https://www.nknews.example/2026/12/north-korea-marks-anniversary/", date(2026, 12, 4), "article"),
        ("https://www.nknews.example/2026/12/market-rates-steady/", date(2026, 12, 3), "article"),
    ]
    assert links[0].title == "North Korea marks anniversary with mass rally in Pyongyang"


def test_discovery_sitemap_index_lists_sitemaps():
    links, is_index = sitemap_links(read("sitemap_index.xml"), "https://www.38north.example/sitemap_index.xml")
    assert is_index and [link.role for link in links] == ["sitemap"] * 3
    assert links[1].listed_date == date(2026, 11, 20) and links[2].listed_date is None


def test_discovery_listing_page_follows_base_href_and_finds_the_next_page():
    links = listing_links(read("rodong_listing.html"), "https://rodong.example/en/index.php?ptype=politics",
                          r"aid=\d{4}-\d\d-\d\d-\d+")
    articles = [link.url for link in links if link.role == "article"]
    assert articles == [
        "https://rodong.example/en/index.php?aid=2026-12-05-0001&ctype=2&fid=&ptype=cfoot&stype=0",
        "https://rodong.example/en/index.php?aid=2026-12-05-0002&ctype=2&fid=&ptype=cfoot&stype=0",
        "https://rodong.example/en/index.php?aid=2026-12-04-0007&ctype=2&fid=&ptype=cfoot&stype=0",
    ]
    assert [link.url for link in links if link.role == "listing"] == [
        "https://rodong.example/en/index.php?page=2&ptype=politics"]


def test_discovery_listing_page_that_links_to_itself_yields_no_loop():
    page = b"<html><body><a href='/news'>News</a><a href='/news?utm_source=x'>again</a><a href='/news/1'>1</a></body></html>"
    links = listing_links(page, "http://site.example/news", r"/news")
    assert [link.url for link in links] == ["http://site.example/news/1"]


@pytest.mark.parametrize("href", ["mailto:a@b.example", "javascript:void(0)", "#top", "", "ftp://x.example/f",
                                  "http://exa mple.com/x", "data:text/html,hi"])
def test_discovery_links_that_are_not_pages_are_dropped(href):
    assert absolute_link(href, "https://site.example/a/") is None


# --- bad input ---------------------------------------------------------------------


def test_discovery_malformed_xml_is_a_clear_skip():
    with pytest.raises(RejectedContent, match="malformed sitemap XML"):
        sitemap_links(b'<?xml version="1.0"?><urlset><url><loc>http://a.example/1</loc></url>', "http://a.example/s.xml")


def test_discovery_feed_that_is_really_html_is_a_skip():
    html = b"<!DOCTYPE html><html><head><title>Feed moved</title></head><body><p>Our feed moved.</p></body></html>"
    with pytest.raises(RejectedContent, match="feed"):
        feed_links(html, "https://site.example/rss", "application/rss+xml")


def test_discovery_xml_entities_are_not_expanded():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>http://a.example/&lol2;</loc></url>'
            b"</urlset>")
    links, _ = sitemap_links(bomb, "http://a.example/sitemap.xml")
    assert all("lollol" not in link.url for link in links)


def test_discovery_sitemap_of_100k_urls_is_read_and_cut_to_the_most_recent():
    rows = "".join(f"<url><loc>http://big.example/p/{i}</loc><lastmod>2026-{1 + i % 12:02d}-01</lastmod></url>"
                   for i in range(100_000))
    body = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</urlset>'.encode()
    links, _ = sitemap_links(body, "http://big.example/sitemap.xml")
    kept, left_out = most_recent(links, 5000)
    assert (len(kept), left_out) == (5000, 95_000)
    assert all(link.listed_date == date(2026, 12, 1) for link in kept)


def test_discovery_json_that_is_not_a_feed_is_a_skip():
    with pytest.raises(RejectedContent, match="not a JSON Feed"):
        feed_links(b'{"items": []}', "https://site.example/feed.json", "application/json")


def test_discovery_recheck_schedule_backs_off_then_stops():
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    config = DiscoveryConfig(recheck_after_days=(1.0, 7.0, 30.0))
    waits = [next_check(n, now, config) for n in (1, 2, 3, 4)]
    assert [(w - now).days if w else None for w in waits] == [1, 7, 30, None]


def test_discovery_most_recent_puts_undated_links_after_dated_ones():
    links = [Link("http://a.example/1"), Link("http://a.example/2", date(2026, 1, 2)),
             Link("http://a.example/3", date(2026, 1, 5)), Link("http://a.example/2", date(2026, 1, 2))]
    kept, left_out = most_recent(links, 3)
    assert [link.url for link in kept] == ["http://a.example/3", "http://a.example/2", "http://a.example/1"]
    assert left_out == 0
