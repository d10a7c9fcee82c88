"""Discovery over five simulated nights on a fake web of three hosts: a wire service's RSS feed,
a newspaper's sitemap index and a section's listing page. After each night the test asserts which
documents, revisions, deletions and story clusters exist, that robots.txt kept nkpipe out of a
forbidden path, and that no host was asked twice at once or faster than its pause."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from pipeline.clusters import rebuild_story_clusters
from pipeline.config import Config, DiscoveryConfig, FetchConfig, StoreConfig
from pipeline.ingest import run_ingest
from pipeline.politeness import COURTESY
from pipeline.sources import SourceSpec, register_source
from pipeline.store import ledger, link_rows, open_store
from pipeline.store.db import document_revisions, documents, runs, sources, story_clusters
from tests.fake_web import FakeWeb

DAY1 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
DELAY = 0.05
CONTACT = "desk@example.org"

LOREM = ("Officials in Seoul said the measures would be reviewed at a meeting next month. "
         "Observers noted that the statement repeated language used in earlier reports. "
         "The ministry declined to comment further on the details of the plan. ")


def article(title: str, body: str, published: date | None = None, canonical: str | None = None) -> str:
    meta = f'<meta property="article:published_time" content="{published.isoformat()}">' if published else ""
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n"))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>{meta}{link}</head>"
            f"<body><nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{paragraphs}</article></body></html>")


WORDS = ("the officials said ministry plan meeting border trade factory farm harvest rain river bridge port "
         "ship railway power station coal steel cement hospital school teacher students army navy drill exercise "
         "talks envoy summit visit delegation museum concert festival market price rice corn fuel rate dollar "
         "yuan won city province county village road house workers engineers scientists satellite launch "
         "rocket report week month year new old large small early late first second third local national "
         "foreign party committee session congress plenary speech letter greeting ceremony anniversary").split()


def story(n: int) -> str:
    """A different English text for each n (sentences of words drawn with the seed n)."""
    import random

    pick = random.Random(n)
    sentences = [" ".join(pick.choice(WORDS) for _ in range(12)).capitalize() + "." for _ in range(8)]
    return f"Report {n}. " + " ".join(sentences)


STORY1 = ("North Korea test-fired two short-range ballistic missiles into the East Sea on Friday, "
          "South Korea's military said, in the latest of a series of launches this year. "
          "The Joint Chiefs of Staff said the missiles flew about 350 kilometres before landing. "
          "Pyongyang has conducted several such tests since January, drawing condemnation from Seoul, "
          "Washington and Tokyo, which held a trilateral call after the launch. ") + LOREM
KOREAN = ("조선중앙통신에 따르면 김정은 동지께서 새로 건설된 종합병원을 현지지도하시였다. "
          "병원 건설은 지난해 시작되었으며 인민들의 건강을 위한 중요한 사업이라고 강조하시였다. ") * 3


def rss(host, items) -> str:
    entries = "".join(
        f"<item><title>{title}</title><link>{host.url(path)}</link>"
        f"<pubDate>{day.strftime('%a, %d %b %Y 08:00:00 +0000')}</pubDate></item>"
        for path, title, day in items)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Wire</title>'
            f"<link>{host.base}</link>{entries}</channel></rss>")


def urlset(host, items, news: bool = False) -> str:
    ns = ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"' if news else ""
    rows = "".join(
        f"<url><loc>{host.url(path)}</loc>"
        + (f"<news:news><news:publication_date>{day.isoformat()}</news:publication_date>"
           f"<news:title>{path}</news:title></news:news>" if news else f"<lastmod>{day.isoformat()}</lastmod>")
        + "</url>" for path, day in items)
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"{ns}>{rows}</urlset>'


def listing(host, paths, next_page: str | None) -> str:
    links = "".join(f"<li><a href='{p}'>Story {p}</a></li>" for p in paths)
    nxt = f"<a rel='next' href='{next_page}'>Next</a>" if next_page else ""
    return (f"<html><head><title>News</title></head><body><a href='/news'>News</a><ul>{links}</ul>{nxt}"
            f"<a href='/about'>About</a></body></html>")


@pytest.fixture
def web():
    fake = FakeWeb(["wire", "papers", "section"])
    COURTESY.forget()
    yield fake
    fake.close()
    COURTESY.forget()


def night_config(tmp_path) -> Config:
    return replace(
        Config(base_dir=tmp_path),
        store=StoreConfig(url=f"sqlite:///{tmp_path / 'nkpipe.db'}"),
        fetch=FetchConfig(timeout_s=5.0, connect_timeout_s=2.0, attempts=1, per_host_delay_s=DELAY,
                          contact=CONTACT, concurrent_hosts=3),
        discovery=DiscoveryConfig(recheck_after_days=(1.0, 2.0), max_new_per_source=3, max_age_days=30),
    )


def documents_by_url(store) -> dict[str, dict]:
    with store.engine.connect() as conn:
        return {r.url: dict(r._mapping) for r in conn.execute(sa.select(documents))}


def test_discovery_five_nights_of_a_feed_a_sitemap_index_and_a_listing_page(web, tmp_path):
    wire, papers, section = web["wire"], web["papers"], web["section"]
    day = lambda n: (DAY1 + timedelta(days=n - 1)).date()  # noqa: E731
    wire.put("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")
    wire_items = [("/story/1", "Missiles", day(1)), ("/story/2", "Talks", day(1) - timedelta(days=1)),
                  ("/story/ko-1", "병원", day(1)), ("/private/leak", "Leak", day(1) - timedelta(days=2))]
    wire.put("/rss.xml", rss(wire, wire_items), "application/rss+xml")
    wire.put("/story/1", article("Missiles", STORY1, day(1) - timedelta(days=1)))
    wire.put("/story/2", article("Talks", story(2)))
    wire.put("/story/ko-1", article("병원", KOREAN))
    wire.put("/private/leak", article("Leak", story(99)))
    papers.put("/sitemap_index.xml",
               '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
               f"<sitemap><loc>{papers.url('/sitemap-news.xml')}</loc></sitemap>"
               f"<sitemap><loc>/sitemap-2020.xml</loc><lastmod>2020-01-01</lastmod></sitemap>"
               "</sitemapindex>", "application/xml")
    papers.put("/sitemap-news.xml", urlset(papers, [("/a/100", day(1)), ("/a/101", day(1))], news=True),
               "application/xml")
    papers.put("/sitemap-2020.xml", urlset(papers, [("/a/1", date(2020, 1, 1))]), "application/xml")
    # a wire story republished in full, with the paper's own headline, a day later
    papers.put("/a/100", article("Wire: missiles", STORY1, day(1), canonical=papers.url("/a/100?utm_source=rss")))
    papers.put("/a/101", article("Markets", story(101)))
    papers.put("/a/1", article("Old", story(1)))
    section.put("/news", listing(section, ["/news/1", "news/2", f"//{section.base.split('//')[1]}/news/3", "/news/4"],
                                 "/news?page=2"))
    section.put("/news?page=2", listing(section, ["/news/5", "/news"], None))
    for n in range(1, 6):
        section.put(f"/news/{n}", article(f"Section {n}", story(200 + n)))

    config = night_config(tmp_path)
    store = open_store(config.store.url)
    register_source(store, SourceSpec(wire.url("/rss.xml")))
    register_source(store, SourceSpec(papers.url("/sitemap_index.xml")))
    register_source(store, SourceSpec(section.url("/news"), source_type="listing_page", link_pattern=r"/news/\d+$"))

    def night(n: int):
        sources_ = ledger.list_sources(store, enabled_only=True)
        summary = run_ingest(store, config, sources_, now=DAY1 + timedelta(days=n - 1))
        assert summary.counts.failed == 0, summary
        rebuild_story_clusters(store, config)
        return summary

    def clusters() -> set[tuple[str, bool]]:
        with store.engine.connect() as conn:
            return {(r.url, r.representative) for r in conn.execute(
                sa.select(documents.c.url, story_clusters.c.representative)
                .join(story_clusters, story_clusters.c.document_id == documents.c.document_id))}

    republished = {(wire.url("/story/1"), True), (papers.url("/a/100"), False)}

    # night 1: the feed's three newest links (the cap), both hosts' sitemaps, the listing's first three
    first = night(1)
    docs = documents_by_url(store)
    assert set(docs) == {wire.url("/story/1"), wire.url("/story/2"), wire.url("/story/ko-1"),
                         papers.url("/a/100"), papers.url("/a/101"),
                         section.url("/news/1"), section.url("/news/2"), section.url("/news/3")}
    assert docs[wire.url("/story/ko-1")]["language"] == "ko" and docs[wire.url("/story/1")]["language"] == "en"
    assert first.counts.non_english == 1
    assert clusters() == republished, "the wire story and its republished copy are one story; the earlier counts"
    assert first.counts.discovered == 4 + 3 + 6  # wire 4; papers 1 sitemap + 2 pages; section page 2 + 5 articles
    assert papers.requests("/a/1") == [] and papers.requests("/sitemap-2020.xml") == [], \
        "a sitemap last changed in 2020 is before the catch-up window"
    assert wire.requests("/private/leak") == []
    with store.engine.connect() as conn:
        ko_facts = conn.execute(sa.text("select count(*) from entities e join documents d using (document_id) "
                                        "where d.url = :u"), {"u": wire.url("/story/ko-1")}).scalar_one()
    assert ko_facts == 0, "a Korean document is stored, not extracted"

    # night 2: story 1 edited, story 3 new; the carried links (private, news/4, news/5) come now
    wire_items.insert(0, ("/story/3", "Visit", day(2)))
    wire.put("/rss.xml", rss(wire, wire_items), "application/rss+xml")
    wire.put("/story/1", article("Missiles", STORY1 + "\nThe UN Security Council will meet on Monday.",
                                 day(1) - timedelta(days=1)))
    wire.put("/story/3", article("Visit", story(3)))
    night(2)
    docs = documents_by_url(store)
    assert {section.url("/news/4"), section.url("/news/5"), wire.url("/story/3")} <= set(docs)
    assert len(docs) == 11
    assert wire.requests("/private/leak") == [], "robots.txt forbids /private/"
    private = ledger.find_source(store, wire.url("/private/leak"))
    assert private.discovery.checks == 1, "a forbidden link is a recorded skip, looked at again later"
    with store.engine.connect() as conn:
        revs = conn.execute(sa.select(document_revisions)).all()
        skip_reasons = [r.reason for r in conn.execute(sa.text("select reason from skips"))]
    assert [(r.revision, "UN Security Council" in r.text) for r in revs] == [(1, False)]
    assert "+1 -0 sentences" in revs[0].diff_summary and "Security Council" in revs[0].diff_summary
    assert "Security Council" in docs[wire.url("/story/1")]["text"]
    assert any("robots.txt forbids /private/" in reason for reason in skip_reasons)
    assert wire.requests("/rss.xml")[-1].conditional, "the feed is asked with If-None-Match"

    # night 3: nothing new; the feed answers 304
    third = night(3)
    assert third.counts.new == 0 and len(documents_by_url(store)) == 11
    assert wire.requests("/rss.xml")[-1].status == 304

    # night 4 is missed. Night 5: story 2 deleted, stories 4 and 5 (day 4 and day 5) caught up
    wire.remove("/story/2")
    wire_items[:0] = [("/story/5", "Five", day(5)), ("/story/4", "Four", day(4))]
    wire.put("/rss.xml", rss(wire, wire_items), "application/rss+xml")
    wire.put("/story/4", article("Four", story(4)))
    wire.put("/story/5", article("Five", story(5)))
    fifth = night(5)
    assert fifth.days_covered == 2
    docs = documents_by_url(store)
    assert len(docs) == 13 and {wire.url("/story/4"), wire.url("/story/5")} <= set(docs)
    assert docs[wire.url("/story/2")]["deleted_at"] is not None, "deleted, with the date, and kept"
    assert ledger.find_source(store, wire.url("/story/2")).discovery.deleted_at is not None
    deleted = [r for r in link_rows.revisions_and_deletions(store) if r["change"] == "deleted"]
    assert [r["url"] for r in deleted] == [wire.url("/story/2")]
    assert clusters() == republished, "an edit (one sentence added) keeps the story one cluster"

    # night 6: a deleted article is not asked again; nothing changes
    asked = len(wire.requests("/story/2"))
    night(6)
    assert len(wire.requests("/story/2")) == asked and len(documents_by_url(store)) == 13
    with store.engine.connect() as conn:
        run_rows = conn.execute(sa.select(runs.c.days_covered, runs.c.discovered).order_by(runs.c.run_id)).all()
        children = conn.execute(sa.select(sa.func.count()).select_from(sources)
                                .where(sources.c.parent_id.is_not(None))).scalar_one()
    assert [r.days_covered for r in run_rows] == [None, 1, 1, 2, 1]
    assert children == (4 + 1 + 2) + 3 + 6, "every link is one source, found once"

    # politeness: one User-Agent naming nkpipe and the contact; no host asked twice at once or too fast
    for host in (wire, papers, section):
        hits = sorted(host.requests(), key=lambda hit: hit.started)
        assert all("nkpipe" in hit.user_agent and CONTACT in hit.user_agent for hit in hits)
        # the client waits DELAY after it has read an answer, so two starts are at least DELAY apart
        # (the server's end time is taken after its write, and thread scheduling can make it late)
        gaps = [b.started - a.started for a, b in zip(hits, hits[1:])]
        assert min(gaps) >= DELAY, (host.name, min(gaps))
        assert host.max_in_flight == 1, host.name
        assert len(host.requests("/robots.txt")) == 1, "robots.txt is read once a day per host"


def test_discovery_story_clusters_count_a_republished_story_once(web, tmp_path):
    wire, papers = web["wire"], web["papers"]
    wire.put("/rss.xml", rss(wire, [("/story/1", "Missiles", date(2026, 3, 1)),
                                    ("/story/2", "Talks", date(2026, 3, 1))]), "application/rss+xml")
    wire.put("/story/1", article("Missiles", STORY1 + "\nKim Jong Un made 51 public appearances in 2024, "
                                 "the report said.", date(2026, 2, 28)))
    wire.put("/story/2", article("Talks", story(2)))
    papers.put("/sitemap.xml", urlset(papers, [("/a/100", date(2026, 3, 1))], news=True), "application/xml")
    papers.put("/a/100", article("Wire: missiles", STORY1 + "\nKim Jong Un made 51 public appearances in "
                                 "2024, the report said.", date(2026, 3, 1)))
    config = night_config(tmp_path)
    store = open_store(config.store.url)
    register_source(store, SourceSpec(wire.url("/rss.xml")))
    register_source(store, SourceSpec(papers.url("/sitemap.xml")))
    run_ingest(store, config, ledger.list_sources(store), now=DAY1)
    summary = rebuild_story_clusters(store, config)
    assert (summary.clusters, summary.duplicates) == (1, 1)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(story_clusters.c.representative, documents.c.url)
                            .join(documents, documents.c.document_id == story_clusters.c.document_id)).all()
    assert {(r.representative, r.url) for r in rows} == {(True, wire.url("/story/1")), (False, papers.url("/a/100"))}
    from pipeline.store.document_rows import query_facts

    tallies = [f for f in query_facts(store) if f["value"] == 51]
    assert [f["document_url"] for f in tallies] == [wire.url("/story/1")], "the copy's fact is not counted twice"


def test_discovery_a_slow_host_does_not_hold_up_the_others(web, tmp_path):
    fast, slow = web["wire"], web["papers"]
    items = [(f"/f/{n}", f"Fast {n}", date(2026, 3, 1)) for n in range(6)]
    feed = rss(fast, items) + ""
    for n in range(3):
        feed = feed.replace("</channel>", f"<item><title>Slow {n}</title><link>{slow.url(f'/s/{n}')}</link>"
                                          f"<pubDate>Sun, 01 Mar 2026 08:00:00 +0000</pubDate></item></channel>")
        slow.put(f"/s/{n}", article(f"Slow {n}", story(300 + n)), delay_s=0.6)
    for n in range(6):
        fast.put(f"/f/{n}", article(f"Fast {n}", story(400 + n)))
    fast.put("/rss.xml", feed, "application/rss+xml")
    config = replace(night_config(tmp_path), discovery=DiscoveryConfig(max_new_per_source=20))
    store = open_store(config.store.url)
    register_source(store, SourceSpec(fast.url("/rss.xml")))
    summary = run_ingest(store, config, ledger.list_sources(store), now=DAY1)
    assert (summary.counts.new, summary.counts.failed) == (9, 0)
    slow_hits = [h for h in slow.requests() if h.path.startswith("/s/")]
    fast_hits = [h for h in fast.requests() if h.path.startswith("/f/")]
    during_slow = [f for f in fast_hits if any(s.started <= f.started and f.ended <= s.ended for s in slow_hits)]
    assert during_slow, "articles of a fast host are fetched while a slow host answers"
    assert slow.max_in_flight == 1, "one request at a time per host"


def test_discovery_an_edited_article_keeps_its_reviewers_corrections_or_shows_them_lapsed(web, tmp_path):
    from pipeline.corrections import Correction, record_correction
    from pipeline.keys import fact_key
    from pipeline.store.correction_rows import correction_state
    from pipeline.store.db import corrections, facts

    wire = web["wire"]
    tally = "Kim Jong Un made 51 public appearances in 2024, the report said."
    rate = "The dollar traded at 8,000 won in Pyongyang markets in March 2025, traders said."
    wire.put("/rss.xml", rss(wire, [("/story/1", "Tally", date(2026, 3, 1))]), "application/rss+xml")
    wire.put("/story/1", article("Tally", f"{STORY1}\n{tally}\n{rate}", date(2026, 3, 1)))
    config = night_config(tmp_path)
    store = open_store(config.store.url)
    register_source(store, SourceSpec(wire.url("/rss.xml")))
    run_ingest(store, config, ledger.list_sources(store), now=DAY1)
    with store.engine.connect() as conn:
        found = {f.kind: f for f in conn.execute(sa.select(facts, documents.c.text_hash)
                                                 .join(documents, documents.c.document_id == facts.c.document_id))}
    count, price = found["activity_count"], found["exchange_rate"]
    record_correction(store, Correction(fact_key(count.text_hash, count.start_char, count.end_char, count.kind),
                                        "set", "rev", {"value": 52.0}, field="value"))
    record_correction(store, Correction(fact_key(price.text_hash, price.start_char, price.end_char, price.kind),
                                        "reject", "rev"))
    # the outlet adds a paragraph before the tally and rewrites the rate's sentence
    wire.put("/story/1", article("Tally", f"Update: a new paragraph.\n{STORY1}\n{tally}\n"
                                          f"The dollar fetched 8,000 won in Pyongyang markets in March 2025.",
                                 date(2026, 3, 1)))
    run_ingest(store, config, ledger.list_sources(store), now=DAY1 + timedelta(days=1))
    with store.engine.connect() as conn:
        now_facts = {f.kind: f for f in conn.execute(sa.select(facts))}
        rows = conn.execute(sa.select(corrections).order_by(corrections.c.id)).all()
        states = [correction_state(conn, row) for row in rows]
    assert now_facts["activity_count"].value == 52.0 and now_facts["activity_count"].reviewed
    assert now_facts["activity_count"].start_char > count.start_char, "found again at its new place"
    assert not now_facts["exchange_rate"].rejected, "its sentence was rewritten: the rejection does not carry over"
    assert states == ["re-anchored", "lapsed", "applied"]


def test_discovery_cli_adds_a_feed_a_sitemap_and_a_listing_page_and_lists_them(web, tmp_path):
    from typer.testing import CliRunner

    from nkpipe.cli import app

    runner, db = CliRunner(), f"sqlite:///{tmp_path / 'cli.db'}"
    wire, papers, section = web["wire"], web["papers"], web["section"]
    added = [runner.invoke(app, ["--db", db, "sources", "add", *args]) for args in (
        [wire.url("/rss.xml"), "--state-media"],
        [papers.url("/sitemap.xml")],
        [section.url("/news"), "--type", "listing_page", "--link-pattern", r"/news/\d+$", "--max-pages", "2"],
    )]
    assert [r.exit_code for r in added] == [0, 0, 0], [r.output for r in added]
    assert "state media" in added[0].output and "listing_page" in added[2].output
    refused = runner.invoke(app, ["--db", db, "sources", "add", section.url("/other"), "--type", "listing_page"])
    assert refused.exit_code != 0 and "--link-pattern" in refused.output
    listing = runner.invoke(app, ["--db", db, "sources", "list"])
    assert "[listing_page]" in listing.output and listing.output.count("\n") == 4  # header and three sources
    store = open_store(db)
    section_source = ledger.find_source(store, section.url("/news"))
    assert (section_source.discovery.link_pattern, section_source.discovery.max_pages) == (r"/news/\d+$", 2)
    assert ledger.find_source(store, wire.url("/rss.xml")).discovery.state_media


@pytest.mark.parametrize("state_media", [True, False])
def test_discovery_register_reads_the_articles_of_a_state_media_source(web, tmp_path, state_media):
    from pipeline.activities import rebuild_register

    wire = web["wire"]
    report = ("Kim Jong Un, general secretary of the Workers' Party of Korea and president of the State Affairs "
              "of the DPRK, inspected the construction site of the Pyongyang General Hospital on March 1. "
              "He was accompanied by Jo Yong Won and Kim Tok Hun. He praised the builders for their "
              "devoted efforts and set tasks for completing the project on time.")
    wire.put("/rss.xml", rss(wire, [("/kcna/1", "Kim Jong Un Inspects Hospital", date(2026, 3, 2))]),
             "application/rss+xml")
    wire.put("/kcna/1", article("Kim Jong Un Inspects Construction Site of Pyongyang General Hospital", report,
                                date(2026, 3, 2)))
    config = night_config(tmp_path)
    store = open_store(config.store.url)
    register_source(store, SourceSpec(wire.url("/rss.xml"), state_media=state_media))
    run_ingest(store, config, ledger.list_sources(store), now=DAY1 + timedelta(days=1))
    assert rebuild_register(store) == (1 if state_media else 0)


def test_discovery_sitemap_index_of_indexes_stops_at_the_depth_limit(web, tmp_path):
    papers = web["papers"]

    def index(path: str, child: str) -> None:
        papers.put(path, '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                         f"<sitemap><loc>{papers.url(child)}</loc></sitemap></sitemapindex>", "application/xml")

    index("/i0.xml", "/i1.xml")
    index("/i1.xml", "/i2.xml")
    index("/i2.xml", "/i3.xml")  # deeper than max_sitemap_depth = 2
    index("/i3.xml", "/i4.xml")
    config = replace(night_config(tmp_path), discovery=DiscoveryConfig(max_sitemap_depth=2))
    store = open_store(config.store.url)
    register_source(store, SourceSpec(papers.url("/i0.xml")))
    summary = run_ingest(store, config, ledger.list_sources(store), now=DAY1)
    assert summary.counts.failed == 0
    assert [len(papers.requests(p)) for p in ("/i0.xml", "/i1.xml", "/i2.xml", "/i3.xml")] == [1, 1, 1, 0]
    with store.engine.connect() as conn:
        reasons = [r.reason for r in conn.execute(sa.text("select reason from skips"))]
    assert any("nested 3 levels deep" in reason and "max_sitemap_depth" in reason for reason in reasons)
