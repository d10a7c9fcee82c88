"""Discovery at scale on a fake web: HOSTS hosts (one local server each) with an RSS feed of
ARTICLES articles each; one night registers the feeds, discovers and fetches every article.

Reports articles per second (discovery, fetch, clean and write; the NLP stage is replaced by a pass-
through unless --nlp, because it is measured by bench/throughput.py), and the spacing observed between
two requests to one host (the minimum must not be below [fetch] per_host_delay_s), and the most
requests any host had in flight at once (must be 1). A second night, with nothing new, is timed too.

    .venv/bin/python bench/discovery.py [--hosts 50] [--articles 200] [--delay 0.05] [--concurrent 8]
        [--out bench/results/discovery.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORDS = ("the officials said ministry plan meeting border trade factory farm harvest rain river bridge port "
         "ship railway power station coal steel cement hospital school army navy drill talks envoy summit visit "
         "museum concert festival market price rice corn fuel rate dollar yuan won city province county").split()


def article(host: int, n: int) -> str:
    import random

    pick = random.Random(host * 100_000 + n)
    paragraphs = "".join("<p>" + " ".join(pick.choice(WORDS) for _ in range(25)).capitalize() + ".</p>"
                         for _ in range(4))
    return (f"<html lang='en'><head><title>Host {host} story {n}</title></head><body><article>"
            f"<h1>Host {host} story {n}</h1>{paragraphs}</article></body></html>")


def feed(server, articles: int, day: date) -> str:
    items = "".join(f"<item><title>Story {n}</title><link>{server.url(f'/story/{n}')}</link>"
                    f"<pubDate>{(day - timedelta(days=n % 5)).strftime('%a, %d %b %Y 08:00:00 +0000')}</pubDate></item>"
                    for n in range(articles))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed</title>{items}</channel></rss>'


def pass_through(batch, config):
    from pipeline.nlp import _analyzed

    return [_analyzed(item, [], []) for item in batch]


def spacing(hosts) -> dict:
    """Seen by the servers: time from one request's start to the next one's on the same host (the client
    waits per_host_delay_s after it has read the previous answer, so this is at least the delay plus the
    answer's time), the idle time between them (server clock: its end is taken after the write, so thread
    scheduling can make it read a few ms short), and how many requests a host was answering at once
    (counted by the server)."""
    starts, idle, overlap = [], [], 0
    for host in hosts:
        hits = sorted(host.requests(), key=lambda hit: hit.started)
        starts += [b.started - a.started for a, b in zip(hits, hits[1:])]
        idle += [b.started - a.ended for a, b in zip(hits, hits[1:])]
        overlap = max(overlap, host.max_in_flight)
    starts.sort()
    idle.sort()
    return {"requests": sum(len(h.requests()) for h in hosts), "min_start_to_start_s": round(starts[0], 4),
            "median_start_to_start_s": round(starts[len(starts) // 2], 4), "min_idle_s": round(idle[0], 4),
            "median_idle_s": round(idle[len(idle) // 2], 4), "max_in_flight_per_host": overlap}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.05, help="[fetch] per_host_delay_s for the run")
    parser.add_argument("--concurrent", type=int, default=8, help="[fetch] concurrent_hosts")
    parser.add_argument("--nlp", action="store_true", help="run the real NLP stage too (slow)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "discovery.json")
    args = parser.parse_args()

    from pipeline.config import Config, DiscoveryConfig, FetchConfig, StoreConfig
    from pipeline.ingest import IngestSteps, current_versions, run_ingest
    from pipeline.politeness import COURTESY
    from pipeline.sources import SourceSpec, register_source
    from pipeline.store import ledger, open_store
    from tests.fake_web import FakeWeb

    web = FakeWeb([f"h{i}" for i in range(args.hosts)])
    day = date(2026, 3, 1)
    for i, host in enumerate(web.hosts.values()):
        host.put("/rss.xml", feed(host, args.articles, day), "application/rss+xml")
        for n in range(args.articles):
            host.put(f"/story/{n}", article(i, n))
    with tempfile.TemporaryDirectory() as tmp:
        config = replace(Config(base_dir=Path(tmp)), store=StoreConfig(url=f"sqlite:///{tmp}/bench.db"),
                         fetch=FetchConfig(per_host_delay_s=args.delay, concurrent_hosts=args.concurrent, attempts=1),
                         discovery=DiscoveryConfig(max_new_per_source=args.articles))
        store = open_store(config.store.url)
        for host in web.hosts.values():
            register_source(store, SourceSpec(host.url("/rss.xml")))
        steps = IngestSteps() if args.nlp else IngestSteps(analyze=pass_through)
        warm_started = time.perf_counter()
        current_versions(config)  # loads spaCy and the sector model once (bench/throughput.py measures that)
        warm_s = time.perf_counter() - warm_started
        COURTESY.forget()
        now = datetime(2026, 3, 1, 2, tzinfo=UTC)
        started = time.perf_counter()
        first = run_ingest(store, config, ledger.list_sources(store), steps=steps, now=now)
        first_s = time.perf_counter() - started
        observed = spacing(web.hosts.values())
        started = time.perf_counter()
        second = run_ingest(store, config, ledger.list_sources(store), steps=steps, now=now + timedelta(hours=1))
        second_s = time.perf_counter() - started
    web.close()
    stored = first.counts.new
    result = {
        "command": "bench/discovery.py " + " ".join(sys.argv[1:]),
        "hosts": args.hosts, "articles_per_host": args.articles, "per_host_delay_s": args.delay,
        "concurrent_hosts": args.concurrent, "nlp": args.nlp,
        "model_load_s_before_timing": round(warm_s, 1),
        "first_night": {"seconds": round(first_s, 1), "articles_stored": stored, "discovered": first.counts.discovered,
                        "failed": first.counts.failed, "articles_per_s": round(stored / first_s, 1)},
        "second_night_nothing_new": {"seconds": round(second_s, 1), "new": second.counts.new,
                                     "unchanged": second.counts.unchanged},
        "spacing_first_night": observed,
        "serial_floor_s": round(args.articles * args.delay * args.hosts / args.concurrent, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
