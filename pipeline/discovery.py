"""Discovery: the links a feed, a sitemap or a listing page points to, and when to look at them again.

Pure functions over bytes: the source types ``feed``, ``sitemap`` and ``listing_page``
(``pipeline/source_types/``) call them, and the run (``pipeline.ingest``) registers the links
as sources under the one that found them. What is bounded here: links read per page
(``[discovery] max_links_per_fetch``, the most recent first), XML without entities or network
access, and links only of http(s), resolved against the page's address and normalised
(tracking parameters dropped) so one article under two links is one source.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from html import unescape
from io import BytesIO
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html

from pipeline.config import DiscoveryConfig
from pipeline.errors import InvalidSourceError, RejectedContent
from pipeline.records import Link
from pipeline.sources import normalise_source_url

FEED_CONTENT_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json",
                      "application/rdf+xml")
XML_CONTENT_TYPES = ("application/xml", "text/xml")
_FEED_ROOT = re.compile(rb"<(rss|feed|rdf:RDF)[\s>]", re.IGNORECASE)
_SITEMAP_ROOT = re.compile(rb"<(?:\w+:)?(urlset|sitemapindex)[\s>]", re.IGNORECASE)
MAX_URL_CHARS = 2048  # longer links are not articles (and do not fit a unique index on PostgreSQL)
_NEXT_WORDS = re.compile(r"^\s*(next|older|more|next page|older posts|›|»|>|>>)\s*[›»>]*\s*$", re.IGNORECASE)


# --- recognising -------------------------------------------------------------------


def looks_like_feed(head: bytes, content_type: str) -> bool:
    if content_type in FEED_CONTENT_TYPES:
        return True
    if "html" in content_type:  # an article whose first lines mention <rdf:RDF> is still an article
        return False
    if content_type.endswith("json"):
        return b"jsonfeed.org/version" in head
    return bool(_FEED_ROOT.search(_without_prolog(head)))


def looks_like_sitemap(head: bytes, content_type: str) -> bool:
    if content_type.endswith("json") or content_type in FEED_CONTENT_TYPES or "html" in content_type:
        return False
    return bool(_SITEMAP_ROOT.search(_without_prolog(head)))


def _without_prolog(head: bytes) -> bytes:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n")[:4096]


# --- links ---------------------------------------------------------------------------


def absolute_link(href: str | None, base_url: str) -> str | None:
    """The normalised http(s) address of a link on a page at ``base_url``; None for anything else
    (mailto:, javascript:, fragments of the same page, malformed addresses)."""
    if not isinstance(href, str):
        return None
    href = unescape(href.strip())
    if not href or len(href) > MAX_URL_CHARS or href.startswith(("#", "mailto:", "javascript:", "tel:", "data:")):
        return None
    try:
        joined = urljoin(base_url, href)
        if urlsplit(joined).scheme not in ("http", "https"):
            return None
        return normalise_source_url(joined)
    except (InvalidSourceError, ValueError):  # "http://[x": not an address
        return None


def _date_of(value: object) -> date | None:
    """A W3C datetime or an RFC 822 date as a date, None when it is not one."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime

        return parsedate_to_datetime(value).date()
    except (TypeError, ValueError, IndexError):
        return None


def most_recent(links: Iterable[Link], limit: int) -> tuple[list[Link], int]:
    """The first ``limit`` distinct links, most recent first (undated ones after, in page order),
    and how many were left out."""
    seen: dict[str, Link] = {}
    for link in links:
        seen.setdefault(link.url, link)
    ordered = sorted(seen.values(), key=lambda link: link.listed_date is None)
    ordered = sorted(ordered, key=lambda link: link.listed_date or date.min, reverse=True)
    return ordered[:limit], max(0, len(ordered) - limit)


# --- feeds ---------------------------------------------------------------------------


def feed_links(body: bytes, base_url: str, content_type: str) -> list[Link]:
    """Article links of an RSS, Atom or JSON Feed document; RejectedContent when it is not one."""
    if content_type.endswith("json") or body.lstrip()[:1] == b"{":
        return _json_feed_links(body, base_url)
    import feedparser  # imported here: only runs that read feeds pay for it

    parsed = feedparser.parse(BytesIO(body), response_headers={"content-location": base_url},
                              sanitize_html=False, resolve_relative_uris=False)
    if parsed.get("bozo") and not parsed.entries:
        raise RejectedContent(f"not a readable feed ({_bozo(parsed)})")
    if not parsed.version and not parsed.entries:
        raise RejectedContent("not a feed: no RSS, Atom or RDF items")
    links = []
    for entry in parsed.entries:
        url = absolute_link(_entry_link(entry), base_url)
        if url:
            links.append(Link(url, _struct_date(entry.get("published_parsed") or entry.get("updated_parsed")),
                              entry.get("title")))
    return links


def _entry_link(entry) -> str | None:
    if entry.get("link"):
        return entry["link"]
    for link in entry.get("links", []):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link["href"]
    guid = entry.get("id") or ""
    return guid if guid.startswith(("http://", "https://")) else None


def _struct_date(value) -> date | None:
    if not value:
        return None
    try:
        return date(value.tm_year, value.tm_mon, value.tm_mday)
    except (ValueError, AttributeError):
        return None


def _bozo(parsed) -> str:
    exc = parsed.get("bozo_exception")
    return f"{type(exc).__name__}: {str(exc)[:120]}" if exc else "malformed"


def _json_feed_links(body: bytes, base_url: str) -> list[Link]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RejectedContent(f"not a readable JSON Feed: {exc}") from exc
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith("https://jsonfeed.org/"):
        raise RejectedContent("JSON that is not a JSON Feed (no jsonfeed.org version)")
    links = []
    for item in data.get("items") or []:
        if not isinstance(item, dict):
            continue
        url = absolute_link(item.get("url") or item.get("external_url"), base_url)
        if url:
            title = item.get("title")
            links.append(Link(url, _date_of(item.get("date_published") or item.get("date_modified")),
                              title if isinstance(title, str) else None))
    return links


# --- sitemaps ------------------------------------------------------------------------


def sitemap_links(body: bytes, base_url: str) -> tuple[list[Link], bool]:
    """The pages of a sitemap (``<urlset>``), or the sitemaps of an index (``<sitemapindex>``, then
    True). News sitemaps give each page's publication date. Only links on the sitemap's own host
    count (the sitemaps protocol's rule); RejectedContent for XML that is neither."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise RejectedContent(f"malformed sitemap XML: {exc}") from exc
    kind = etree.QName(root).localname
    if kind not in ("urlset", "sitemapindex"):
        raise RejectedContent(f"XML whose root is <{kind}>, not a sitemap (<urlset> or <sitemapindex>)")
    host = urlsplit(base_url).hostname
    child = "sitemap" if kind == "sitemapindex" else "url"
    links = []
    for entry in root.iterchildren():
        if not isinstance(entry.tag, str) or etree.QName(entry).localname != child:
            continue
        values: dict[str, str] = {}
        for node in entry.iter():  # the first of each name: <loc> of the page before an <image:loc>
            if isinstance(node.tag, str):
                values.setdefault(etree.QName(node).localname, (node.text or "").strip())
        url = absolute_link(values.get("loc"), base_url)
        if url is None or urlsplit(url).hostname != host:
            continue
        listed = _date_of(values.get("publication_date")) or _date_of(values.get("lastmod"))
        role = "sitemap" if kind == "sitemapindex" else "article"
        links.append(Link(url, listed, values.get("title") or None, role))
    return links, kind == "sitemapindex"


# --- listing pages -------------------------------------------------------------------


def listing_links(body: bytes, base_url: str, pattern: str | None, charset: str | None = None) -> list[Link]:
    """Links of a section page that match the analyst's ``pattern`` (a regular expression searched in
    the absolute URL), on the page's own host, and its "next page" link (``rel=next``, or an anchor
    saying Next / Older / »)."""
    if not pattern:
        raise RejectedContent("a listing page needs a link pattern (`nkpipe sources add URL --type listing_page "
                              "--link-pattern REGEX`)")
    try:
        matches = re.compile(pattern)
    except re.error as exc:
        raise RejectedContent(f"the link pattern {pattern!r} is not a regular expression: {exc}") from exc
    try:
        tree = lxml_html.fromstring(body, parser=_html_parser(charset))
    except (etree.ParserError, ValueError) as exc:
        raise RejectedContent(f"listing page cannot be parsed as HTML: {exc}") from exc
    base = _base_href(tree, base_url)
    host = urlsplit(base_url).hostname
    page_url = absolute_link(base_url, base_url)
    links: list[Link] = []
    for anchor in tree.iter("a", "link"):
        url = absolute_link(anchor.get("href"), base)
        if url is None or url == page_url or urlsplit(url).hostname != host:
            continue
        rel = (anchor.get("rel") or "").lower().split()
        if "next" in rel or (anchor.tag == "a" and _NEXT_WORDS.match(anchor.text_content() or "")):
            links.append(Link(url, role="listing"))
        elif anchor.tag == "a" and matches.search(url):
            links.append(Link(url, None, (anchor.text_content() or "").strip() or None))
    return links


def _html_parser(charset: str | None):
    if not charset:
        return None
    try:
        return lxml_html.HTMLParser(encoding=charset)
    except LookupError:  # a charset lxml does not know ("utf8mb4"): let it read the page's own declaration
        return None


def _base_href(tree, page_url: str) -> str:
    base = tree.find(".//base[@href]")
    return urljoin(page_url, base.get("href")) if base is not None else page_url


# --- schedule ------------------------------------------------------------------------


def next_check(checks_done: int, now: datetime, config: DiscoveryConfig) -> datetime | None:
    """When a discovered article is looked at again after its ``checks_done``-th fetch; None: never."""
    waits = config.recheck_after_days
    if checks_done < 1 or checks_done > len(waits):
        return None
    return now + timedelta(days=waits[checks_done - 1])


def too_old(link: Link, now: datetime, config: DiscoveryConfig) -> bool:
    """Listed before the catch-up window (``[discovery] max_age_days``); undated links never are."""
    if not config.max_age_days or link.listed_date is None:
        return False
    return link.listed_date < (now - timedelta(days=config.max_age_days)).date()


def days_since(previous: datetime | None, now: datetime) -> int | None:
    """Whole days between the previous discovery and this one (None on the first)."""
    if previous is None:
        return None
    if previous.tzinfo is None:
        previous = previous.replace(tzinfo=UTC)
    return max(0, (now - previous).days)


def roles(links: Sequence[Link]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for link in links:
        counts[link.role] = counts.get(link.role, 0) + 1
    return counts
