"""The ``nkpipe`` command: thin wrappers over the library functions."""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

from pipeline.config import Config, load_config
from pipeline.errors import NkpipeError
from pipeline.records import SOURCE_KINDS
from pipeline.store import document_rows, ledger, open_store, register_rows

app = typer.Typer(
    help="nkpipe: turn reporting on North Korea into structured, reviewable tables.",
    no_args_is_help=True,
    add_completion=False,
)
sources_app = typer.Typer(help="Register, list and disable the sources nkpipe fetches.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")
users_app = typer.Typer(help="Accounts of the review UI (`nkpipe serve`): add, list, set password or role, disable, "
                             "API token.", no_args_is_help=True)
app.add_typer(users_app, name="users")
db_app = typer.Typer(help="Schema migrations of the store (Alembic): upgrade, current, history.", no_args_is_help=True)
app.add_typer(db_app, name="db")
review_app = typer.Typer(help="The review desk's double review: agreement and throughput.", no_args_is_help=True)
app.add_typer(review_app, name="review")


@dataclass(frozen=True)
class Invocation:
    """What every command gets: the loaded config and the options it came from."""

    config: Config
    config_path: str | None
    db: str | None = None  # the --db option, when given

    def store(self):
        return open_store(self.config.store.url)


def _fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def handles_errors(func):
    """Turn the project's exceptions into one clear line and a non-zero exit."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except NkpipeError as exc:
            _fail(str(exc))

    return wrapper


@app.callback()
@handles_errors
def main(
    ctx: typer.Context,
    db: Annotated[Optional[str], typer.Option(
        "--db", metavar="URL",
        help="Database URL (default: \\[store] url of config.toml; $NKPIPE_DB overrides the file).")] = None,
    config: Annotated[Optional[Path], typer.Option(
        "--config", metavar="PATH", help="Config file (default: $NKPIPE_CONFIG or ./config.toml).")] = None,
) -> None:
    ctx.obj = Invocation(load_config(config, db), str(config) if config else None, db)


def _ctx(ctx: typer.Context) -> Invocation:
    return ctx.obj


def _date(value: Optional[str]):
    from pipeline.sources import parse_published

    return parse_published(value)


KindOption = Annotated[Optional[str], typer.Option(
    "--kind", help=f"One of {', '.join(SOURCE_KINDS)} (default: guessed from the URL; .json = kcna, .pdf = brief).")]
PublishedOption = Annotated[Optional[str], typer.Option(
    "--published", metavar="YYYY-MM-DD",
    help="Publication date, when the page does not give one (ingest: a date other than the stored one "
         "re-dates the source and re-reads its facts).")]


@sources_app.command("add")
@handles_errors
def sources_add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="http(s) URL or local file (HTML, text, PDF, KCNA JSON archive).")],
    kind: KindOption = None,
    name: Annotated[Optional[str], typer.Option("--name", help="A label for listings.")] = None,
    published: PublishedOption = None,
    source_type: Annotated[Optional[str], typer.Option(
        "--type", metavar="TYPE",
        help="How to read it: feed (RSS/Atom/JSON Feed), sitemap, listing_page, html_page, pdf, plain_text, "
             "kcna_archive. Default: detected from what the server sends at each fetch (feeds and sitemaps are "
             "recognised; a listing page must be named).")] = None,
    link_pattern: Annotated[Optional[str], typer.Option(
        "--link-pattern", metavar="REGEX",
        help="Listing pages: a regular expression the article links match, e.g. '/news/\\d+'.")] = None,
    max_pages: Annotated[Optional[int], typer.Option(
        "--max-pages", metavar="N", help="Listing pages: how many pages to follow by their next link "
                                         "(default \\[discovery] max_pages).")] = None,
    state_media: Annotated[bool, typer.Option(
        "--state-media", help="Its articles are state-media reports: the activity register reads them.")] = False,
) -> None:
    """Register a source to fetch on every run: a page or file, or a feed, sitemap or listing page whose
    new articles are fetched each night (each article once, then re-checked after a day, a week and a month)."""
    from pipeline.sources import SourceSpec, command_line_policy, register_source

    context = _ctx(ctx)
    spec = SourceSpec(url, kind, name, _date(published), source_type, link_pattern, max_pages, state_media)
    source = register_source(context.store(), spec, address_policy=command_line_policy(context.config.fetch))
    described = f"{source.kind}" + (f", {source.discovery.source_type}" if source.discovery.source_type else "") \
        + (", state media" if source.discovery.state_media else "")
    typer.echo(f"added source {source.id}: {source.url} ({described})")


@sources_app.command("list")
@handles_errors
def sources_list(ctx: typer.Context) -> None:
    """List sources with their last fetch outcome and stored document count."""
    overview = ledger.source_overview(_ctx(ctx).store())
    if not overview:
        typer.echo("no sources yet; add one with `nkpipe sources add URL` (or run `nkpipe run`)")
        return
    typer.echo(f"{'id':>4}  {'on':<3} {'kind':<8} {'docs':>5} {'links':>6}  {'last':<10} url")
    for row in overview:
        last = row["last_outcome"] or "-"
        reason = f"  [{row['last_reason']}]" if row["last_reason"] else ""
        label = f"  ({row['name']})" if row["name"] else ""
        typed = f"  [{row['source_type']}]" if row["source_type"] else ""
        typer.echo(f"{row['id']:>4}  {'yes' if row['enabled'] else 'no':<3} {row['kind']:<8} "
                   f"{row['documents']:>5} {row['discovered']:>6}  {last:<10} {row['url']}{typed}{label}{reason}")


@sources_app.command("disable")
@handles_errors
def sources_disable(ctx: typer.Context, source_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Stop fetching a source (its documents stay in the store)."""
    source = ledger.set_source_enabled(_ctx(ctx).store(), source_id, False)
    typer.echo(f"disabled source {source.id}: {source.url}")


@sources_app.command("enable")
@handles_errors
def sources_enable(ctx: typer.Context, source_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Fetch a disabled source again."""
    source = ledger.set_source_enabled(_ctx(ctx).store(), source_id, True)
    typer.echo(f"enabled source {source.id}: {source.url}")


@db_app.command("upgrade")
@handles_errors
def db_upgrade(ctx: typer.Context) -> None:
    """Migrate the store to the newest schema (every command does this on opening a store)."""
    from pipeline.store.migrate import current_revision

    store = _ctx(ctx).store()
    typer.echo(f"{store.url}: at revision {current_revision(store.engine)} (head)")


@db_app.command("current")
@handles_errors
def db_current(ctx: typer.Context) -> None:
    """Show the store's schema revision without changing anything."""
    from pipeline.store.db import create_engine_for
    from pipeline.store.migrate import current_revision, head_revision

    engine = create_engine_for(_ctx(ctx).config.store.url)
    try:
        revision = current_revision(engine)
    except Exception as exc:  # noqa: BLE001 - any driver error means the same to the user
        from pipeline.errors import StoreError

        raise StoreError(f"cannot read the database {engine.url.render_as_string(hide_password=True)}: {exc}") from exc
    finally:
        engine.dispose()
    head = head_revision()
    state = "head" if revision == head else f"behind head {head}; run `nkpipe db upgrade`"
    typer.echo(f"{revision or 'none (empty or made before migrations)'} ({state})")


@db_app.command("history")
@handles_errors
def db_history(ctx: typer.Context) -> None:
    """List the schema migrations, oldest first."""
    from pipeline.store.migrate import history

    for revision, down, message in history():
        typer.echo(f"{down or '<base>'} -> {revision}: {message}")


def _print_tables(store) -> None:
    from pipeline.store.db import EXPORT_TABLES

    counts = {name: len(store.read_table(name)) for name in EXPORT_TABLES}
    typer.echo(f"tables are in {store.url}: " + ", ".join(f"{k} ({v} rows)" for k, v in counts.items()))


def _progress(message: str) -> None:
    typer.echo(f"{datetime.now():%H:%M:%S} {message}", err=True)


@app.command()
@handles_errors
def run(
    ctx: typer.Context,
    export_dir: Annotated[Optional[Path], typer.Option(
        "--export-dir", metavar="DIR", help="Also export every table as CSV into DIR after the run.")] = None,
) -> None:
    """Run the nightly flow once now (Prefect, local and offline), with progress.

    On a new, empty store the bundled source list (corpus/sources.toml) is
    registered first, so `nkpipe --db sqlite:///NEW.db run` processes the bundled corpus.
    """
    from flows.env import configure_prefect
    from flows.server import temporary_prefect_server

    context = _ctx(ctx)
    configure_prefect(context.config)
    typer.echo("starting the nightly_ingest flow (a local Prefect server starts first; ~10 s)", err=True)
    with temporary_prefect_server(context.config.prefect_home / "temporary-server.log"):
        from flows.nightly import nightly_ingest  # after the API is set: Prefect reads it at import

        result = nightly_ingest(config_path=context.config_path, db_url=context.config.store.url)
    typer.echo(_summary_line(result))
    store = context.store()
    _print_tables(store)
    if export_dir:
        _export(store, export_dir, "csv")
    if result["failed"]:
        raise typer.Exit(1)


def _summary_line(result: dict) -> str:
    line = (f"run {result['run_id']} {result['status']} in {result['seconds']:.1f} s: "
            f"{result['new']} new, {result['changed']} changed, {result['unchanged']} unchanged, "
            f"{result['skipped']} skipped, {result['failed']} failed documents "
            f"({result['words']:,} words processed)")
    if result.get("discovered"):
        line += f"; {result['discovered']} new links discovered"
    if result.get("non_english"):
        line += f"; {result['non_english']} documents not in English (stored, not extracted)"
    if result.get("days_covered"):
        line += f"; covered {result['days_covered']} days since the previous discovery"
    return line


@app.command()
@handles_errors
def revisions(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many changes to show, newest first.")] = 50,
) -> None:
    """List documents whose text changed (the earlier text is kept as a revision) or whose page was deleted."""
    from pipeline.store import link_rows

    rows = link_rows.revisions_and_deletions(_ctx(ctx).store(), limit)
    if not rows:
        typer.echo("no revisions or deletions seen yet")
        return
    for row in rows:
        when = str(row["at"])[:16]
        what = (f"revision {row['revision']} kept: {row['diff_summary']}" if row["change"] == "revised"
                else "deleted (404/410); its text and facts are kept")
        typer.echo(f"{when}  {row['document_id']}  {row['title'] or row['url']}\n    {what}")


@app.command()
@handles_errors
def ingest(
    ctx: typer.Context,
    paths_or_urls: Annotated[list[str], typer.Argument(metavar="PATH_OR_URL...", help="Files or URLs to process now.")],
    published: PublishedOption = None,
    kind: KindOption = None,
) -> None:
    """Process the given documents immediately, without starting Prefect.

    Each one is registered as a source if it is new, then fetched, cleaned,
    analysed and stored by the same steps as the nightly flow.
    """
    from pipeline.ingest import run_ingest
    from pipeline.sources import SourceSpec, command_line_policy, ensure_source

    context = _ctx(ctx)
    if context.config.flow.task_runner == "dask":  # a Prefect runner; ingest has no Prefect
        typer.echo(f"note: `nkpipe ingest` runs in this process; [flow] task_runner = "
                   f"{context.config.flow.task_runner!r} applies to `nkpipe run`", err=True)
    store = context.store()
    policy = command_line_policy(context.config.fetch)
    sources = [ensure_source(store, SourceSpec(p, kind, None, _date(published)), address_policy=policy,
                             progress=_progress)
               for p in paths_or_urls]
    from pipeline.ingest import PLAIN_STEPS, analysis_in_processes

    pooled = context.config.flow.task_runner == "processes"
    with (analysis_in_processes(context.config, log=_progress) if pooled
          else contextlib.nullcontext((context.config, PLAIN_STEPS))) as (config, steps):
        summary = run_ingest(store, config, sources, steps=steps, progress=_progress, flow_name="ingest")
    from pipeline.activities import rebuild_register, register_needs_rebuild
    from pipeline.clusters import rebuild_story_clusters

    changed = summary.counts.processed > 0
    clusters = rebuild_story_clusters(store, context.config, changed)
    _progress(f"story clusters: {clusters.clusters}, with {clusters.duplicates} copies counted once")
    if register_needs_rebuild(store, changed):
        _progress(f"activity register: {rebuild_register(store)} activities")
    if changed:
        from pipeline.series import refresh_series

        _progress(f"market series: {len(refresh_series(store).points)} points")
    typer.echo(_summary_line({"run_id": summary.run_id, "status": summary.status,
                              "seconds": summary.seconds, "days_covered": summary.days_covered,
                              **asdict(summary.counts)}))
    for skip in ledger.skips_for_run(store, summary.run_id):
        typer.echo(f"  skipped {skip['item_key'] or 'source ' + str(skip['source_id'])}: {skip['reason']}")
    if summary.counts.failed:
        raise typer.Exit(1)


@app.command()
@handles_errors
def schedule(ctx: typer.Context) -> None:
    """Serve the nightly deployment: the flow runs on \\[schedule] cron in config.toml.

    Starts a local Prefect server on 127.0.0.1 (\\[schedule] server_port; state
    in the data directory) unless PREFECT_API_URL points at one, registers the
    deployment, says when its first run is (or warns when the server schedules
    none), and waits for its runs in the foreground; stop it with Ctrl-C.
    """
    from flows.env import configure_prefect

    context = _ctx(ctx)
    configure_prefect(context.config)
    from flows.server import local_prefect_server

    cfg = context.config.schedule
    log_file = context.config.prefect_home / "server.log"
    with local_prefect_server(cfg.server_port, log_file) as api_url:
        # imported here because Prefect reads PREFECT_API_URL at import
        from flows.nightly import nightly_ingest, serve_nightly
        from flows.server import announce_next_run

        typer.echo(f"Prefect API at {api_url}; serving deployment {cfg.deployment_name!r} "
                   f"on cron {cfg.cron!r} ({cfg.timezone})", err=True)
        threading.Thread(target=announce_next_run, daemon=True, name="announce-next-run",
                         args=(api_url, nightly_ingest.name, cfg.deployment_name, cfg.timezone, log_file,
                               lambda line: typer.echo(line, err=True))).start()
        serve_nightly(context.config_path, context.config.store.url, cfg.cron, cfg.timezone,
                      cfg.deployment_name)


@app.command()
@handles_errors
def deploy(
    ctx: typer.Context,
    pool: Annotated[str, typer.Option("--pool", help="Prefect work pool (type process), made if missing.")] = "nkpipe",
) -> None:
    """Deploy the nightly flow to a Prefect work pool, on the cron of \\[schedule].

    Needs a running Prefect server (PREFECT_API_URL); `deploy/run-server.sh`
    starts one, deploys and starts a worker. The deployment and its schedule are
    kept by the server, so restarting the worker keeps them. Each run reads the
    store URL from config.toml or $NKPIPE_DB in the worker's environment;
    `nkpipe --db URL deploy` stores URL in the deployment instead.
    """
    import os

    from flows.env import configure_prefect

    context = _ctx(ctx)
    configure_prefect(context.config)
    if not os.environ.get("PREFECT_API_URL"):
        _fail("set PREFECT_API_URL to a running Prefect server (deploy/run-server.sh starts one)")
    from flows.deploy import deploy_nightly, ensure_process_pool

    if ensure_process_pool(pool):
        typer.echo(f"created work pool {pool!r} (process)")
    from pipeline.config import find_config_file

    config_path = context.config_path or find_config_file()
    db_url = context.config.store.url if context.db else None  # resolved by load_config
    name = deploy_nightly(context.config, str(config_path) if config_path else None, pool, db_url=db_url)
    _note_deployed_store(context.db)
    cfg = context.config.schedule
    typer.echo(f"deployed {name} to pool {pool!r} on cron {cfg.cron!r} ({cfg.timezone}); "
               f"start a worker: prefect worker start --pool {pool}")


def _note_deployed_store(db: str | None) -> None:
    from sqlalchemy.engine import make_url

    if db is None:
        typer.echo("each run reads the store URL from config.toml, or $NKPIPE_DB in the worker's environment")
    elif make_url(db).password:
        typer.secho("warning: the deployment keeps --db's URL with its password, shown by Prefect's UI and API; "
                    "set NKPIPE_DB in the worker's environment instead", err=True, fg=typer.colors.YELLOW)


def _export(store, out: Path, fmt: str) -> None:
    from pipeline.export import export_tables

    for name, path in export_tables(store, out, fmt).items():
        typer.echo(f"wrote {path}")


@app.command()
@handles_errors
def export(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Folder for the files.")] = Path("exports"),
) -> None:
    """Write one file per table (documents, entities, facts, sector_labels, sources, runs, ...)."""
    _export(_ctx(ctx).store(), out, fmt)


@app.command()
@handles_errors
def train(
    ctx: typer.Context,
    with_prefect: Annotated[bool, typer.Option("--prefect/--no-prefect",
                                               help="Run as the Prefect flow train_sector_model (default: directly).")] = False,
) -> None:
    """Retrain the sector model from hand labels plus reviewer corrections.

    Compares several designs by cross-validation on the training split, scores the
    best on the fixed hand-labelled test split, and replaces models/sector only if
    its macro-F1 is not lower than the current model's. Every training run is recorded.
    """
    context = _ctx(ctx)
    if with_prefect:
        from flows.env import configure_prefect

        configure_prefect(context.config)
        from flows.training import train_sector_model

        summary = train_sector_model(config_path=context.config_path, db_url=context.config.store.url)
    else:
        from pipeline.train import run_training

        summary = run_training(context.config, context.store(), _progress).summary()
    verdict = "promoted" if summary["promoted"] else "not promoted"
    typer.echo(f"{summary['version']} ({summary['design']}): test macro-F1 {summary['test_macro_f1']:.3f}, "
               f"ECE {summary['test_ece']:.3f}; {verdict} ({summary['reason']})")


def _fact_kinds() -> tuple[str, ...]:
    from pipeline.facts import fact_kinds

    return fact_kinds()


def _fact_line(fact: dict) -> str:
    from pipeline.facts import format_value

    what = " ".join(str(x) for x in (fact["sector"], fact["category"], fact["counterpart"] and f"with {fact['counterpart']}",
                                      fact["place"] and f"in {fact['place']}") if x)
    period = f"{fact['period_label'] or '?'} ({fact.get('period_precision') or 'unresolved'})"
    return (f"{fact['kind']:<15} {fact['subject'] or '-':<16.16} {what or '-':<24.24} "
            f"{period:<30.30} {format_value(fact):>13} {fact['unit'] or '':<8} "
            f"{fact['confidence']:.2f}  {(fact['document_title'] or fact['document_url'])[:40]}\n"
            f"{'':<16}\u201c{fact['sentence'].strip()[:160]}\u201d")


@app.command()
@handles_errors
def facts(
    ctx: typer.Context,
    kind: Annotated[Optional[str], typer.Option(
        help="A fact kind: activity_count, companion_count, exchange_rate, price, or any other registered one.")] = None,
    subject: Annotated[Optional[str], typer.Option(help="A person, in any romanisation (Kim Jong-un = Kim Jong Un).")] = None,
    year: Annotated[Optional[int], typer.Option(help="Only facts whose period overlaps this year.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines with every column.")] = False,
) -> None:
    """Print the extracted facts (tallies, companion counts, exchange rates, prices) with their sentences."""
    if kind and kind not in _fact_kinds():
        _fail(f"unknown kind {kind!r}; choose one of {', '.join(_fact_kinds())}")
    found = document_rows.query_facts(_ctx(ctx).store(), kind, year)
    if subject:
        from pipeline.entities import person_key

        wanted = person_key(subject) or subject.lower()
        found = [r for r in found if r["subject"] and (person_key(r["subject"]) or r["subject"].lower()) == wanted]
    if as_json:
        import json
        import math

        for row in found:  # a non-finite number (stored by an older version) is null: NaN is not JSON
            finite = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
            typer.echo(json.dumps(finite, default=str, ensure_ascii=False, allow_nan=False))
        return
    if not found:
        typer.echo("no facts match; run `nkpipe run` or `nkpipe ingest FILE` first", err=True)
        return
    typer.echo(f"{'kind':<15} {'subject':<16} {'what':<24} {'period (precision)':<30} {'value':>13} {'unit':<8} "
               f"conf  document")
    for row in found:
        typer.echo(_fact_line(row))
    typer.echo(f"{len(found)} facts", err=True)


@app.command()
@handles_errors
def tallies(
    ctx: typer.Context,
    year: Annotated[int, typer.Option(help="Calendar year of the activities (event date, else report date).")],
    by: Annotated[str, typer.Option(help="sector, type, companion or month.")] = "sector",
) -> None:
    """Count the leader's public activities in the register for one year."""
    from pipeline.tallies import BY, is_counted, tallies as count

    if by not in BY:
        _fail(f"--by must be one of {', '.join(BY)}")
    every_row = register_rows.load_register(_ctx(ctx).store(), every_row=True)
    register = [a for a in every_row if is_counted(a)]
    rows = count(register, year, by)
    total = sum(1 for a in register if (a.event_date or a.report_date) and (a.event_date or a.report_date).year == year)
    others = Counter(a.kind for a in every_row if not is_counted(a))
    typer.echo(f"{total} public activities in {year} in the register ({len(register)} in all)")
    if others:
        typer.echo("not counted: " + ", ".join(f"{n} {kind.replace('_', '-')} rows" for kind, n in sorted(others.items()))
                   + " (letters and digests never; speeches and follow-ups with their event)")
    for key, value in rows:
        typer.echo(f"  {key:<28} {value:>5}")


def _rule_sets_help() -> str:
    """The counting rule sets for `nkpipe reconcile --help`, from their rule file; a broken file is said, not raised."""
    from pipeline.counting_rules import counting_rule_sets

    try:
        return "\n\n".join(f"{number}. {rule_set.name}: {rule_set.description}"
                            for number, rule_set in enumerate(counting_rule_sets(), 1))
    except NkpipeError as exc:
        return f"(the rule sets cannot be read: {exc})"


_RECONCILE_HELP = "\n\n".join((
    "Put the register's tallies beside every reported tally of the year found in the facts.",
    "First says how much of the year the corpus covers: a difference is given only when the corpus holds "
    "state-media reports of every day of the year.",
    "With --explain, the register is recounted under each named counting rule set, and each reported tally is "
    "shown beside every recount, with the rule set whose recount comes closest and its residual (that recount "
    "less the reported number). Published tallies differ because they count differently: by event or report "
    "date, a tour's sites once or each, with or without meetings, speeches, photo sessions or letters, up to a "
    "cut-off day. The rule sets are data, in pipeline/resources/counting_rules.json:",
    _rule_sets_help(),
    "A tour told in one report is one register row, whatever the sites it names, so no rule set counts the "
    "sites inside one report.",
))


@app.command(help=_RECONCILE_HELP)
@handles_errors
def reconcile(
    ctx: typer.Context,
    year: Annotated[int, typer.Option(help="The year whose tallies are compared.")],
    explain: Annotated[bool, typer.Option(
        "--explain", help="Recount the register under each counting rule set and name the closest per tally.")] = False,
) -> None:
    from pipeline.activities import corpus_coverage

    store = _ctx(ctx).store()
    if explain:
        _explain_tallies(store, year)
    else:
        _compare_tallies(store, document_rows.query_facts(store, "activity_count", year), corpus_coverage(store, year))


def _compare_tallies(store, facts: list[dict], coverage) -> None:
    from pipeline.activities import reconcile as compare

    typer.echo(coverage.describe() + ("" if coverage.complete else
               "; the register counts only those days, so it is not compared with yearly totals"))
    compared = compare(register_rows.load_register(store), facts, coverage.year, coverage=coverage)
    if not compared:
        _say_no_tallies(coverage.year)
        return
    typer.echo(f"{'breakdown':<22} {'reported':>10} {'register':>9} {'diff':>7}  source")
    for row in compared:
        diff = "" if row.difference is None else f"{row.difference:+.0f}"
        typer.echo(f"{row.key:<22} {row.reported_value:>10} {row.register_count:>9} {diff:>7}  {row.source[:60]}")
        typer.echo(f"{'':<22} \u201c{row.sentence.strip()[:150]}\u201d")


def _explain_tallies(store, year: int) -> None:
    from pipeline.workbench import explained_tallies

    found = explained_tallies(store, year)
    if found.complete:
        typer.echo(found.coverage)
    else:
        typer.secho(f"WARNING: {found.coverage}: the recounts below count only those days, so no rule set is "
                    "called closest; ingest the missing days' reports to compare", fg=typer.colors.YELLOW)
    rule_sets, explained = found.rule_sets, found.explanations
    typer.echo("rule sets (`nkpipe reconcile --help` explains them):")
    for number, rule_set in enumerate(rule_sets, 1):
        typer.echo(f"  {number:>2}. {rule_set.name}")
    if not explained:
        _say_no_tallies(year)
        return
    counted_over = "" if found.complete else "  (recounts over covered days only)"
    numbers = "".join(f"{number:>6}" for number in range(1, len(rule_sets) + 1))
    typer.echo(f"{'breakdown':<22} {'reported':>10}{numbers}  closest (residual){counted_over}")
    for row in explained:
        recounts = "".join(f"{recount.count:>6}" for recount in row.recounts)
        closest = f"{' = '.join(row.closest)} ({row.residual:+g})" if row.closest else "-"
        typer.echo(f"{row.key:<22} {row.reported_value:>10}{recounts}  {closest}")
        typer.echo(f"{'':<22} \u201c{row.sentence.strip()[:150]}\u201d  {row.source[:60]}")


def _say_no_tallies(year: int) -> None:
    typer.echo(f"no reported tallies for {year} in the facts; ingest articles or briefs that report them")


@app.command()
@handles_errors
def report(
    ctx: typer.Context,
    year: Annotated[int, typer.Option(help="The year to report.")],
    out: Annotated[Path, typer.Option(metavar="FILE.html", help="Where to write the page.")] = Path("report.html"),
) -> None:
    """Write a self-contained HTML page: activities per month by sector, the reconciliation, and each reported
    tally recounted under every counting rule set (what `nkpipe reconcile --explain` prints)."""
    from pipeline.activities import corpus_coverage, reconcile as compare
    from pipeline.report import render_report
    from pipeline.workbench import explained_tallies

    store = _ctx(ctx).store()
    register = register_rows.load_register(store)
    coverage = corpus_coverage(store, year)
    compared = compare(register, document_rows.query_facts(store, "activity_count", year), year, coverage=coverage)
    found = explained_tallies(store, year)
    html = render_report(register, compared, year, coverage=coverage.describe(), rule_sets=found.rule_sets,
                         explained=found.explanations)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    typer.echo(f"wrote {out}")


@app.command()
@handles_errors
def series(
    ctx: typer.Context,
    measure: Annotated[str | None, typer.Option(
        help="KPW/USD, KPW/CNY (market rates), 'KPW/USD official', or a good priced per kg (rice, corn, ...). "
             "Without it: the measures and places the store holds.")] = None,
    place: Annotated[str | None, typer.Option(
        help="The market city (Pyongyang, Sinuiju, ...); 'no city named' for quotes without one. "
             "Default: every place.")] = None,
    out: Annotated[Path | None, typer.Option(
        metavar="FILE.csv|FILE.parquet", help="Write the table to this file.")] = None,
    points: Annotated[bool, typer.Option(
        "--points", help="One row per source's quote (with its document and sentence) instead of per month.")] = False,
    rebuild: Annotated[bool, typer.Option(
        "--rebuild", help="Rebuild the series from the stored facts first (the nightly run does this).")] = False,
) -> None:
    """Market rates and prices merged across outlets, per month and city.

    Each month's value is the median of the outlets' own medians (an outlet quoting weekly does not
    outvote one quoting monthly), with the low and high across outlets and the number of sources; a
    month is flagged DIVERGENT when the outlets differ by more than \\[series] divergence_share of the
    median. Quotes are dated by the survey date the text gives, else by the publication date (the
    points table says which); a story republished elsewhere counts once.
    """
    from pipeline import series as market
    from pipeline.export import write_rows
    from pipeline.store import series_rows

    context = _ctx(ctx)
    store = context.store()
    if rebuild:
        built = market.refresh_series(store)
        _progress(f"market series: {len(built.points)} points from the facts"
                  + "".join(f"; left out {n}: {why}" for why, n in built.skipped.items()))
    stored = series_rows.load_points(store)
    if measure is None:
        _list_measures(market.measures(stored))
        return
    chosen = market.select(stored, measure, place)
    if not chosen:
        _fail(f"no points for {measure}" + (f" in {place}" if place else "") + "; run `nkpipe series` without "
              "--measure to see the measures and places the store holds")
    summaries = market.monthly(chosen, context.config.series.divergence_share)
    if out is not None:
        rows, columns = ((market.point_rows(chosen), market.POINT_COLUMNS) if points
                         else (market.summary_rows(summaries), market.SUMMARY_COLUMNS))
        typer.echo(f"wrote {len(rows)} rows to {write_rows(rows, out, columns)}")
        return
    if points:
        for p in chosen:
            typer.echo(f"{p.survey_end:%Y-%m-%d} {p.place or market.NO_PLACE:<16} {p.value:>10,.0f}  {p.outlet}"
                       f"  ({p.dated_by} date)  {(p.sentence or '').strip()[:90]}")
        return
    typer.echo(f"{'month':<8} {'place':<16} {'median':>10} {'low':>10} {'high':>10} {'sources':>7}")
    for m in summaries:
        flag = "  DIVERGENT" if m.divergent else ""
        typer.echo(f"{m.month:<8} {m.place or market.NO_PLACE:<16} {m.median:>10,.0f} {m.low:>10,.0f} "
                   f"{m.high:>10,.0f} {m.sources:>7}{flag}")


def _list_measures(found: list[tuple[str, str, int, int]]) -> None:
    if not found:
        typer.echo("no market series in the store; ingest reports of market rates or prices "
                   "(`nkpipe series --rebuild` rebuilds them from the stored facts)", err=True)
        return
    typer.echo(f"{'measure':<20} {'place':<18} {'points':>6} {'outlets':>7}")
    for measure, place, count, outlets in found:
        typer.echo(f"{measure:<20} {place:<18} {count:>6} {outlets:>7}")
    typer.echo("show one with: nkpipe series --measure MEASURE [--place PLACE] [--out FILE.csv]")


@app.command()
@handles_errors
def signals(
    ctx: typer.Context,
    every: Annotated[bool, typer.Option(
        "--all", help="Also the signals that ended (a run no longer raised them), marked 'ended'.")] = False,
    as_json: Annotated[bool, typer.Option(
        "--json", help="One JSON object per line, as the notify command gets them.")] = False,
) -> None:
    """List the signals the last nightly run raised from the register and the market series, most severe first.

    gap: the leader's days without a reported public activity beyond the usual; absent: a frequent
    companion not seen for months; sector_mix: a sector's share of the last weeks against the year so far;
    series: a market series' newest month far from its recent months (`nkpipe series`).
    Each is measured to the newest stored document's date and comes with the register rows behind it
    (/register/ID in `nkpipe serve`). Thresholds are in config.toml's \\[signals].
    """
    import json

    from pipeline.store import signal_rows

    stored = signal_rows.stored_signals(_ctx(ctx).store(), include_ended=every)
    if as_json:
        for row in stored:
            typer.echo(json.dumps({**row.signal.as_json(), "active": row.active,
                                   "first_seen": row.first_seen.isoformat(), "last_seen": row.last_seen.isoformat()},
                                  ensure_ascii=False))
        return
    if not stored:
        typer.echo("no signals" + ("" if every else " now") + "; the nightly run (`nkpipe run`) computes them "
                   "from the register", err=True)
        return
    for row in stored:
        signal = row.signal
        state = "" if row.active else " (ended)"
        typer.echo(f"{signal.severity:<6} {signal.kind:<10} {signal.key}{state}  since {row.first_seen:%Y-%m-%d}")
        typer.echo(f"       {signal.summary}")
        if signal.links:
            typer.echo(f"       evidence: {', '.join(signal.links)}")


@app.command()
@handles_errors
def runs(ctx: typer.Context, limit: Annotated[int, typer.Option(help="How many runs to show.")] = 10) -> None:
    """Show the last runs with their counts."""
    recent = ledger.recent_runs(_ctx(ctx).store(), limit)
    if not recent:
        typer.echo("no runs yet; start one with `nkpipe run`")
    for r in recent:
        typer.echo(f"run {r['run_id']:>4} {r['flow_name']:<15} {r['started_at']:%Y-%m-%d %H:%M} "
                   f"{r['status']:<24} new {r['new']}, changed {r['changed']}, unchanged {r['unchanged']}, "
                   f"skipped {r['skipped']}, failed {r['failed']}" + (f"  [{r['message']}]" if r['message'] else ""))


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
@handles_errors
def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name: lower-case letters, digits, '.', '_' or '-'.")],
    role: Annotated[str, typer.Option("--role", help="analyst (sources), reviewer (also corrections) or admin (also users).")],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input (scripts).")] = False,
) -> None:
    """Create an account; the password is prompted twice (or read with --password-stdin)."""
    from pipeline.accounts import add_user, check_role

    context = _ctx(ctx)
    check_role(role)  # before the prompt, so a typo is not discovered after typing a password twice
    user = add_user(context.store(), name, role, _read_password(password_stdin), context.config.web)
    typer.echo(f"added {user.role} {user.name}")


@users_app.command("list")
@handles_errors
def users_list(ctx: typer.Context) -> None:
    """List accounts with their role and whether they are disabled."""
    from pipeline.accounts import list_users

    accounts = list_users(_ctx(ctx).store())
    if not accounts:
        typer.echo("no accounts yet; add one with `nkpipe users add NAME --role admin`")
    for user in accounts:
        typer.echo(f"{user.name:<24} {user.role:<9} {'disabled' if user.disabled else 'active':<9} "
                   f"since {user.created_at:%Y-%m-%d}")


@review_app.command("stats")
@handles_errors
def review_stats(ctx: typer.Context) -> None:
    """Agreement of the double review (Cohen's kappa per reviewer pair and per item kind) and each reviewer's
    decisions per hour of work (pauses longer than \\[review] idle_minutes are not work)."""
    from pipeline import review_stats as stats

    context = _ctx(ctx)
    typer.echo(stats.format_stats(stats.review_stats(context.store(), context.config.review)))


@users_app.command("set-password")
@handles_errors
def users_set_password(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The account whose password changes.")],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input (scripts).")] = False,
) -> None:
    """Set a new password (prompted twice, or read with --password-stdin); the account's sessions end."""
    from pipeline.accounts import get_user, set_password

    context = _ctx(ctx)
    get_user(context.store(), name)  # before the prompt, so a typo is not discovered after typing a password twice
    user = set_password(context.store(), name, _read_password(password_stdin), context.config.web)
    typer.echo(f"set the password of {user.name}")


@users_app.command("set-role")
@handles_errors
def users_set_role(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The account whose role changes.")],
    role: Annotated[str, typer.Argument(help="analyst (sources), reviewer (also corrections) or admin (also users).")],
) -> None:
    """Change an account's role."""
    from pipeline.accounts import set_role

    user = set_role(_ctx(ctx).store(), name, role)
    typer.echo(f"{user.name} is now {user.role}")


@users_app.command("disable")
@handles_errors
def users_disable(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The account to disable.")]) -> None:
    """Disable an account and end its open sessions (its corrections stay)."""
    from pipeline.accounts import set_disabled

    typer.echo(f"disabled {set_disabled(_ctx(ctx).store(), name, True).name}")


@users_app.command("enable")
@handles_errors
def users_enable(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The account to enable.")]) -> None:
    """Enable a disabled account again."""
    from pipeline.accounts import set_disabled

    typer.echo(f"enabled {set_disabled(_ctx(ctx).store(), name, False).name}")


@users_app.command("token")
@handles_errors
def users_token(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The account the token reads the API as.")],
    revoke: Annotated[bool, typer.Option("--revoke", help="Delete the account's token instead of making one.")] = False,
) -> None:
    """Make a bearer token for the workbench's JSON API (/api/register, /api/tallies, /api/facts).

    The token is printed once, alone on standard output; only its hash is stored. It gives
    analyst-level read access, whatever the account's role. Running the command again replaces
    the token (the old one stops working); --revoke deletes it; disabling the account revokes it too.
    """
    from pipeline.accounts import issue_api_token, revoke_api_token

    store = _ctx(ctx).store()
    if revoke:
        typer.echo(f"revoked the API token of {name}" if revoke_api_token(store, name)
                   else f"{name} had no API token; nothing to revoke")
        return
    token = issue_api_token(store, name)
    typer.echo(f"API token of {name} (shown once; any earlier token of {name} no longer works); send it as "
               f"'Authorization: Bearer TOKEN':", err=True)
    typer.echo(token)


@app.command()
@handles_errors
def serve(
    ctx: typer.Context,
    host: Annotated[Optional[str], typer.Option(help="Address to listen on (default: \\[web] host, 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default: \\[web] port, 8000).")] = None,
) -> None:
    """Serve the review UI: sign in, work through the review queue, manage sources and users.

    Reads and writes the same store as the pipeline. Create the first account with
    `nkpipe users add NAME --role admin`.
    """
    import uvicorn

    from nkpipe.web.app import create_app, server_config

    context = _ctx(ctx)
    web = context.config.web
    typer.echo(f"review UI on http://{host or web.host}:{port or web.port}/ (store {context.store().url})", err=True)
    uvicorn.Server(server_config(create_app(context.config), context.config, host, port)).run()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
