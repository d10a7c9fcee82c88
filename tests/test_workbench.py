"""The analyst's workbench: register, tallies and facts pages, their CSV and JSON API, API tokens."""

from __future__ import annotations

import hashlib

import pytest
from typer.testing import CliRunner

from nkpipe.cli import app as cli_app
from pipeline import accounts
from pipeline.errors import AuthError
from pipeline.store import open_store

runner = CliRunner()


# --- API tokens ----------------------------------------------------------------------------------


def _cli(db_url: str, *args: str, text: str | None = None):
    return runner.invoke(cli_app, ["--db", db_url, *args], input=text)


def _token_in(output: str) -> str:
    return next(line.strip() for line in output.splitlines() if line.strip().startswith(accounts.API_TOKEN_PREFIX))


def test_workbench_cli_users_token_prints_a_token_once_and_keeps_only_its_hash(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    assert _cli(db, "users", "add", "bob", "--role", "analyst", "--password-stdin", text="a long password\n").exit_code == 0
    made = _cli(db, "users", "token", "bob")
    assert made.exit_code == 0, made.output
    token = _token_in(made.output)
    assert len(token) > 40 and "shown once" in made.output
    store = open_store(db)
    stored = store.read_table("api_tokens")
    assert list(stored["token_hash"]) == [hashlib.sha256(token.encode()).hexdigest()]
    assert token not in open(tmp_path / "cli.db", "rb").read().decode("latin-1")
    assert accounts.find_token_user(store, token).name == "bob"

    again = _token_in(_cli(db, "users", "token", "bob").output)  # re-issuing replaces the token
    assert again != token and accounts.find_token_user(store, token) is None
    assert accounts.find_token_user(store, again).name == "bob" and len(store.read_table("api_tokens")) == 1

    revoked = _cli(db, "users", "token", "bob", "--revoke")
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert accounts.find_token_user(store, again) is None and store.read_table("api_tokens").empty
    assert "nothing to revoke" in _cli(db, "users", "token", "bob", "--revoke").output


def test_workbench_cli_users_token_refuses_unknown_and_disabled_accounts(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    unknown = _cli(db, "users", "token", "nobody")
    assert unknown.exit_code == 2 and "no user is called 'nobody'" in unknown.output
    _cli(db, "users", "add", "bob", "--role", "admin", "--password-stdin", text="a long password\n")
    token = _token_in(_cli(db, "users", "token", "bob").output)
    assert _cli(db, "users", "disable", "bob").exit_code == 0  # disabling revokes the token
    assert accounts.find_token_user(open_store(db), token) is None
    refused = _cli(db, "users", "token", "bob")
    assert refused.exit_code == 2 and "is disabled" in refused.output


def test_workbench_token_of_a_disabled_account_reads_nothing(store, web_config):
    accounts.add_user(store, "dora", "reviewer", "dora-password", web_config.web)
    token = accounts.issue_api_token(store, "dora")
    assert accounts.find_token_user(store, token).role == "reviewer"
    accounts.set_disabled(store, "dora", True)
    assert accounts.find_token_user(store, token) is None
    assert accounts.find_token_user(store, "") is None and accounts.find_token_user(store, "nkp_guess") is None
    with pytest.raises(AuthError, match="disabled"):
        accounts.issue_api_token(store, "dora")
