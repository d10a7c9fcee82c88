from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from nkpipe.cli import app
from tests.conftest import REPO, SEED_ARTICLE, SEED_BRIEF

runner = CliRunner()


def nkpipe(tmp_path, *args):
    return runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'cli.db'}", *args])


def nkpipe_with_input(tmp_path, text: str, *args):
    return runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'cli.db'}", *args], input=text)


@pytest.mark.parametrize("command", [
    [], ["sources"], ["sources", "add"], ["sources", "list"], ["sources", "disable"],
    ["sources", "enable"], ["run"], ["ingest"], ["schedule"], ["export"], ["runs"], ["facts"], ["train"], ["signals"],
    ["serve"], ["users"], ["users", "add"], ["users", "list"], ["users", "disable"], ["users", "enable"],
    ["users", "set-password"], ["users", "set-role"], ["users", "token"],
    ["db"], ["db", "upgrade"], ["db", "current"], ["db", "history"], ["deploy"],
])
def test_cli_every_command_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_cli_sources_add_list_disable(tmp_path):
    added = nkpipe(tmp_path, "sources", "add", "https://Example.com/a#x", "--name", "Example", "--published", "2025-01-02")
    assert added.exit_code == 0 and "added source 1: https://example.com/a (article)" in added.output
    listed = nkpipe(tmp_path, "sources", "list")
    assert "https://example.com/a" in listed.output and "Example" in listed.output
    assert nkpipe(tmp_path, "sources", "disable", "1").exit_code == 0
    assert " no " in nkpipe(tmp_path, "sources", "list").output


@pytest.mark.parametrize("url, message", [
    ("ftp://example.com/x", "unsupported scheme"),
    ("https://", "no valid host"),
    ("/no/such/file.pdf", "does not exist"),
])
def test_cli_sources_add_refuses_bad_urls_with_a_clear_message(tmp_path, url, message):
    result = nkpipe(tmp_path, "sources", "add", url)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_cli_sources_add_refuses_duplicates(tmp_path):
    nkpipe(tmp_path, "sources", "add", "https://example.com/a")
    result = nkpipe(tmp_path, "sources", "add", "https://EXAMPLE.com:443/a")
    assert result.exit_code == 2 and "already registered as source 1" in result.output


def test_cli_disable_unknown_source(tmp_path):
    result = nkpipe(tmp_path, "sources", "disable", "42")
    assert result.exit_code == 2 and "no source has id 42" in result.output


def test_cli_ingest_then_export_csv_and_parquet(tmp_path):
    result = nkpipe(tmp_path, "ingest", str(SEED_ARTICLE), str(SEED_BRIEF))
    assert result.exit_code == 0, result.output
    assert "2 new" in result.output
    again = nkpipe(tmp_path, "ingest", str(SEED_ARTICLE))
    assert "0 new, 0 changed, 1 unchanged" in again.output
    for fmt in ("csv", "parquet"):
        out = tmp_path / fmt
        exported = nkpipe(tmp_path, "export", "--format", fmt, "--out", str(out))
        assert exported.exit_code == 0, exported.output
        read = pd.read_csv if fmt == "csv" else pd.read_parquet
        documents = read(out / f"documents.{fmt}")
        assert len(documents) == 2
        assert len(read(out / f"entities.{fmt}")) > 10
        for table in ("facts", "sector_labels", "sources", "runs", "fetches", "skips"):
            assert (out / f"{table}.{fmt}").is_file()
    runs = nkpipe(tmp_path, "runs")
    assert "ingest" in runs.output and "unchanged 1" in runs.output


def test_cli_ingest_reports_skips(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = nkpipe(tmp_path, "ingest", str(empty))
    assert result.exit_code == 0
    assert "1 skipped" in result.output and "empty" in result.output


def test_cli_ingest_says_it_does_not_use_the_dask_runner(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    config = tmp_path / "config.toml"
    config.write_text('[flow]\ntask_runner = "dask"\n')
    result = nkpipe(tmp_path, "--config", str(config), "ingest", str(empty))
    assert result.exit_code == 0, result.output
    assert ("note: `nkpipe ingest` runs in this process; [flow] task_runner = 'dask' applies to `nkpipe run`"
            in result.output)
    assert "task_runner" not in nkpipe(tmp_path, "ingest", str(empty)).output  # the default runner: nothing to say


def test_cli_export_rejects_unknown_format(tmp_path):
    result = nkpipe(tmp_path, "export", "--format", "xlsx", "--out", str(tmp_path / "x"))
    assert result.exit_code == 2 and "csv or parquet" in result.output


def test_cli_bad_config_key_is_reported(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[store]\nurll = 'x'\n")
    result = runner.invoke(app, ["--config", str(config), "sources", "list"])
    assert result.exit_code == 2 and "unknown key 'urll'" in result.output


@pytest.mark.usefixtures("prefect_harness")
def test_cli_run_on_a_new_store_processes_the_default_sources(tmp_path):
    (tmp_path / "sources.toml").write_text(f'[[source]]\nurl = "{SEED_BRIEF}"\nkind = "brief"\n')
    config = tmp_path / "config.toml"
    config.write_text('[paths]\ndefault_sources = "sources.toml"\n')
    result = runner.invoke(app, ["--config", str(config), "--db", f"sqlite:///{tmp_path / 'new.db'}",
                                 "run", "--export-dir", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "1 new" in result.output
    assert f"tables are in sqlite:///{tmp_path / 'new.db'}" in result.output
    assert len(pd.read_csv(tmp_path / "out" / "documents.csv")) == 1


def test_cli_facts_after_ingesting_the_seeds(tmp_path):
    assert nkpipe(tmp_path, "ingest", str(SEED_ARTICLE), str(SEED_BRIEF)).exit_code == 0
    table = nkpipe(tmp_path, "facts", "--kind", "activity_count", "--subject", "Kim Jong-un", "--year", "2024")
    assert table.exit_code == 0, table.output
    lines = [line for line in table.output.splitlines() if line.startswith("activity_count")]
    assert len(lines) == 6  # the 2024 total and five sector comparisons
    assert "(53 in 2024)" in table.output
    assert "2024 (year)" in table.output  # every fact shows how finely its period is stated
    rates = nkpipe(tmp_path, "facts", "--kind", "exchange_rate", "--json")
    rows = [json.loads(line) for line in rates.output.splitlines()]
    assert {(r["low"], r["high"], r["qualifier"]) for r in rows} == {
        (8000.0, 8999.0, "range"), (30000.0, None, "more_than"), (40000.0, 49999.0, "range")}
    for row in rows:
        assert row["sentence"] and row["document_title"].startswith("(Brief 2025-30)")
    assert nkpipe(tmp_path, "facts", "--kind", "rumour").exit_code == 2


def test_cli_ingest_with_a_new_published_date_redates_and_reextracts(tmp_path):
    report = tmp_path / "tally.txt"
    report.write_text("Year-end tally\n\nKim Jong Un made 51 public appearances last year, "
                      "the unification ministry said on Monday.\n")

    def tally_years():
        rows = [json.loads(line) for line in nkpipe(tmp_path, "facts", "--kind", "activity_count", "--json")
                .output.splitlines()]
        return [(row["value"], row["period_start"][:4], row["document_published"]) for row in rows]

    first = nkpipe(tmp_path, "ingest", str(report), "--published", "2025-01-06")
    assert first.exit_code == 0 and "1 new" in first.output, first.output
    assert tally_years() == [(51.0, "2024", "2025-01-06")]
    same = nkpipe(tmp_path, "ingest", str(report), "--published", "2025-01-06")
    assert "1 unchanged" in same.output, same.output
    again = nkpipe(tmp_path, "ingest", str(report), "--published", "2026-01-05")
    assert again.exit_code == 0 and "1 changed" in again.output, again.output
    assert "publication date 2025-01-06 -> 2026-01-05" in again.output
    assert tally_years() == [(51.0, "2025", "2026-01-05")]
    assert "1 unchanged" in nkpipe(tmp_path, "ingest", str(report)).output  # no date given: the stored one stands


def test_cli_persons_and_aliases_are_stored(tmp_path):
    assert nkpipe(tmp_path, "ingest", str(SEED_ARTICLE), str(SEED_BRIEF)).exit_code == 0
    out = tmp_path / "out"
    assert nkpipe(tmp_path, "export", "--out", str(out)).exit_code == 0
    aliases = pd.read_csv(out / "person_aliases.csv")
    choi = aliases[aliases.person_id == "choi-eun-ju"]
    assert len(choi) >= 2, aliases  # e.g. "CHOI Eun-ju" and "Eun-ju Choi" are one person
    entities = pd.read_csv(out / "entities.csv")
    kim = entities[entities.canonical_id == "kim-jong-un"]
    assert len(kim) > 3 and set(kim.canonical_name) == {"Kim Jong Un"}


@pytest.mark.usefixtures("prefect_harness")
def test_cli_train_with_prefect_records_the_training_run(tmp_path):
    import shutil

    model_dir = tmp_path / "model"
    shutil.copytree(REPO / "models" / "sector", model_dir)
    config = tmp_path / "config.toml"
    config.write_text(f'[paths]\ncorpus_dir = "{REPO / "corpus"}"\n'
                      f'[sectors]\nmodel_dir = "{model_dir}"\nlabels_dir = "{REPO / "corpus" / "labels"}"\n'
                      'designs = ["tfidf_logreg"]\n')
    result = runner.invoke(app, ["--config", str(config), "--db", f"sqlite:///{tmp_path / 't.db'}", "train", "--prefect"])
    assert result.exit_code == 0, result.output
    assert "tfidf_logreg" in result.output and "test macro-F1" in result.output
    from pipeline.store import open_store

    runs = open_store(f"sqlite:///{tmp_path / 't.db'}").read_table("training_runs")
    assert len(runs) == 1 and runs.design[0] == "tfidf_logreg"
    history = (model_dir / "history.jsonl").read_text().splitlines()
    assert json.loads(history[-1])["design"] == "tfidf_logreg"


def test_cli_users_add_list_disable(tmp_path):
    added = runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'cli.db'}", "users", "add", "rita", "--role", "reviewer",
                                "--password-stdin"], input="a long password\n")
    assert added.exit_code == 0 and "added reviewer rita" in added.output
    listed = nkpipe(tmp_path, "users", "list")
    assert "rita" in listed.output and "reviewer" in listed.output and "active" in listed.output
    assert nkpipe(tmp_path, "users", "disable", "rita").exit_code == 0
    assert "disabled" in nkpipe(tmp_path, "users", "list").output


def test_cli_users_set_password_and_role(tmp_path):
    from pipeline.accounts import authenticate
    from pipeline.config import WebConfig
    from pipeline.store import open_store

    add = nkpipe_with_input(tmp_path, "a long password\n", "users", "add", "rita", "--role", "analyst",
                            "--password-stdin")
    assert add.exit_code == 0
    changed = nkpipe_with_input(tmp_path, "a new long password\n", "users", "set-password", "rita", "--password-stdin")
    assert changed.exit_code == 0 and "set the password of rita" in changed.output
    prompted = nkpipe_with_input(tmp_path, "the third password\nthe third password\n", "users", "set-password", "rita")
    assert prompted.exit_code == 0
    role = nkpipe(tmp_path, "users", "set-role", "rita", "reviewer")
    assert role.exit_code == 0 and "rita is now reviewer" in role.output
    store = open_store(f"sqlite:///{tmp_path / 'cli.db'}")
    assert authenticate(store, "rita", "a new long password", WebConfig()) is None
    assert authenticate(store, "rita", "the third password", WebConfig()).role == "reviewer"


def test_cli_users_add_prompts_twice_and_refuses_a_mismatch(tmp_path):
    db = ["--db", f"sqlite:///{tmp_path / 'cli.db'}"]
    mismatch = runner.invoke(app, [*db, "users", "add", "rita", "--role", "admin"],
                             input="a long password\nanother password\na long password\na long password\n")
    assert mismatch.exit_code == 0 and "do not match" in mismatch.output and "added admin rita" in mismatch.output


@pytest.mark.parametrize("args, message", [
    (["users", "add", "rita", "--role", "editor", "--password-stdin"], "unknown role"),
    (["users", "disable", "nobody"], "no user is called"),
    (["users", "set-password", "nobody", "--password-stdin"], "no user is called"),
    (["users", "set-role", "nobody", "admin"], "no user is called"),
])
def test_cli_users_errors_are_one_clear_line(tmp_path, args, message):
    result = runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'cli.db'}", *args], input="a long password\n")
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("db, stored", [
    (None, None),  # the worker's config and $NKPIPE_DB decide at each run
    ("sqlite:///data/x.db", "sqlite:///{base}/data/x.db"),
])
def test_cli_deploy_stores_the_database_url_only_when_given(tmp_path, monkeypatch, db, stored):
    import flows.deploy

    deployed = {}

    def fake_deploy(config, config_path, pool, db_url=None):  # the parameters a server would keep
        deployed.update(flows.deploy.deployment_parameters(config, config_path, db_url))
        return "nightly_ingest/nightly"

    config = tmp_path / "config.toml"
    config.write_text('[store]\nurl = "postgresql+psycopg://nk:secret@db.example/nkpipe"\n')
    monkeypatch.chdir(tmp_path)  # a relative --db is relative to the working directory, as for every command
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setenv("NKPIPE_DB", "postgresql+psycopg://nk:other@db.example/nkpipe")
    monkeypatch.setattr(flows.deploy, "ensure_process_pool", lambda pool: False)
    monkeypatch.setattr(flows.deploy, "deploy_nightly", fake_deploy)
    result = runner.invoke(app, [*(["--db", db] if db else []), "--config", str(config), "deploy", "--pool", "p"])
    assert result.exit_code == 0, result.output
    assert deployed == {"config_path": str(config), "db_url": stored and stored.format(base=tmp_path)}
    assert "secret" not in result.output and "other" not in result.output


def test_cli_deploy_warns_when_a_given_url_holds_a_password(tmp_path, monkeypatch):
    import flows.deploy

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setattr(flows.deploy, "ensure_process_pool", lambda pool: False)
    monkeypatch.setattr(flows.deploy, "deploy_nightly", lambda *args, **kwargs: "nightly_ingest/nightly")
    config = tmp_path / "config.toml"
    config.write_text("")
    result = runner.invoke(app, ["--db", "postgresql+psycopg://nk:secret@db.example/nkpipe", "--config", str(config),
                                 "deploy"])
    assert result.exit_code == 0 and "set NKPIPE_DB in the worker's environment instead" in result.output
