"""Double review: which items get two reviewers, blind second decisions, adjudication by an admin, and
the agreement (Cohen's kappa) and throughput statistics on the admin page and in `nkpipe review stats`.

Decisions are made through the web routes a reviewer's clicks submit, and checked in the store.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import cohen_kappa_score
from typer.testing import CliRunner

from nkpipe.cli import app as cli
from nkpipe.web.app import create_app
from pipeline.accounts import add_user
from pipeline.agreement import cohen_kappa, decision_label, decisions_per_hour, in_double_review_share, working_hours
from pipeline.config import ReviewConfig, config_from_mapping
from pipeline.errors import ConfigError
from pipeline.keys import activity_key
from pipeline.records import Activity, activity_id_for
from pipeline.review_queue import QueueFilter, corrections_of, review_queue
from pipeline.review_stats import review_stats
from pipeline.store import persist
from tests.test_review_desk import FACT_KEY, SECTOR_KEY, confirm, corrections_table, fact_state
from tests.test_web import login

EVERY_ITEM = ReviewConfig(double_review_share=1.0, double_review_tallies=True)
TALLIES_ONLY = ReviewConfig(double_review_share=0.0, double_review_tallies=True)


# --- the arithmetic ------------------------------------------------------------------------------


def test_agreement_cohen_kappa_of_a_known_table():
    # 50 items: both yes 20, A yes B no 5, A no B yes 10, both no 15. Observed 0.7, chance
    # 0.5 x 0.6 + 0.5 x 0.4 = 0.5, so kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    pairs = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
    assert cohen_kappa(pairs) == pytest.approx(0.4)
    assert cohen_kappa([("a", "a"), ("b", "b"), ("c", "c")]) == pytest.approx(1.0)
    assert cohen_kappa([("a", "b"), ("b", "a")]) == pytest.approx(-1.0)


def test_agreement_cohen_kappa_matches_scikit_learn_and_is_undefined_without_variety():
    rng = random.Random(18)
    labels = ["confirm", "reject", "set 1", "set 2"]
    pairs = [(rng.choice(labels), rng.choice(labels[:2])) for _ in range(200)]
    expected = cohen_kappa_score([a for a, _ in pairs], [b for _, b in pairs])
    assert cohen_kappa(pairs) == pytest.approx(expected)
    assert cohen_kappa([]) is None
    assert cohen_kappa([("confirm", "confirm")] * 5) is None  # chance agreement is certain: no kappa


def test_agreement_decisions_agree_on_the_action_and_an_edit_s_values():
    assert decision_label("confirm", {"value": 1}) == decision_label("confirm", {"value": 2})
    assert decision_label("set", {"value": 1, "subject": "A"}) == decision_label("set", {"subject": "A", "value": 1})
    assert decision_label("set", {"value": 1}) != decision_label("set", {"value": 2})
    assert decision_label("set", "military") != decision_label("confirm", "military")


def test_agreement_working_hours_count_working_spans_only():
    start = datetime(2024, 5, 1, 9, 0)
    # four decisions a minute apart, an hour's break, then two more a minute apart
    times = [start + timedelta(minutes=m) for m in (0, 1, 2, 3, 63, 64)]
    idle = timedelta(minutes=10)
    # gaps within spans: 4 x 1 min; each of the 2 spans' first decision is credited the median gap (1 min)
    assert working_hours(times, idle) == pytest.approx(6 / 60)
    assert decisions_per_hour(times, idle) == pytest.approx(60.0)
    assert working_hours(reversed(times), idle) == pytest.approx(6 / 60)  # the order they come in does not matter
    assert working_hours([start], idle) == pytest.approx(10 / 60)  # one decision: credited the idle allowance
    assert decisions_per_hour([], idle) is None


def test_agreement_double_review_share_is_a_stable_hash_of_the_key():
    keys = [f"fact:{n:064x}:1:2:activity_count:0" for n in range(4000)]
    chosen = [k for k in keys if in_double_review_share(k, 0.1)]
    assert 0.08 < len(chosen) / len(keys) < 0.12
    assert chosen == [k for k in keys if in_double_review_share(k, 0.1)]  # the same items every time
    assert set(chosen) <= {k for k in keys if in_double_review_share(k, 0.3)}  # a larger share adds items
    assert not any(in_double_review_share(k, 0.0) for k in keys) and all(in_double_review_share(k, 1.0) for k in keys)


def test_config_review_section_is_checked():
    assert config_from_mapping({"review": {"double_review_share": 0.25}}).review.double_review_share == 0.25
    with pytest.raises(ConfigError, match="double_review_shares"):
        config_from_mapping({"review": {"double_review_shares": 0.25}})
    with pytest.raises(ConfigError, match="at most 1.0"):
        config_from_mapping({"review": {"double_review_share": 1.5}})


# --- two reviewers through the web --------------------------------------------------------------


def site(review_store, web_config, review: ReviewConfig) -> dict[str, TestClient]:
    """A signed-in client per account: reviewer, second (another reviewer) and admin."""
    add_user(review_store, "second", "reviewer", "second-password", web_config.web)
    application = create_app(replace(web_config, review=review), review_store)
    clients = {}
    for name in ("reviewer", "second", "admin"):
        clients[name] = TestClient(application, base_url="http://127.0.0.1")
        clients[name].token = login(clients[name], name)
    return clients


def reject_fact(client) -> object:
    return client.post("/review/fact", data={"key": FACT_KEY, "action": "reject", "csrf_token": client.token},
                       follow_redirects=False)


def queue_for(store, reviewer: str | None) -> list[str]:
    return [i.key for i in review_queue(store, QueueFilter(reviewer=reviewer), limit=100)]


def test_double_review_first_decision_is_held_back_and_hidden_from_the_second_reviewer(review_store, web_config):
    users = site(review_store, web_config, EVERY_ITEM)
    before = fact_state(review_store)
    answer = confirm(users["reviewer"], users["reviewer"].token, FACT_KEY, comment="first look")
    assert answer.status_code == 303
    assert fact_state(review_store) == before  # not applied: the rows show the second reviewer nothing
    [row] = corrections_table(review_store)
    assert (row["action"], row["review_role"], bool(row["active"]), row["round_id"]) == ("confirm", "first", False, row["id"])
    assert FACT_KEY not in queue_for(review_store, "reviewer")  # they decided it: it waits for someone else
    assert FACT_KEY in queue_for(review_store, "second")
    own = users["reviewer"].get("/review/item", params={"key": FACT_KEY}).text
    assert 'id="held"' in own and "first look" in own
    blind = users["second"].get("/review/item", params={"key": FACT_KEY}).text
    assert "first look" not in blind and "No corrections yet." in blind and 'id="held"' not in blind
    assert "first look" not in users["second"].get("/").text  # nor on the dashboard's latest corrections
    assert "first look" in users["reviewer"].get("/").text
    # an admin may be the second reviewer too: blind until the two decisions disagree
    assert "first look" not in users["admin"].get("/review/item", params={"key": FACT_KEY}).text
    assert "first look" not in users["admin"].get("/").text
    again = confirm(users["reviewer"], users["reviewer"].token, FACT_KEY)
    assert again.status_code == 400 and "already" in again.text


def test_double_review_agreeing_second_decision_is_applied_and_settles_the_round(review_store, web_config):
    users = site(review_store, web_config, EVERY_ITEM)
    confirm(users["reviewer"], users["reviewer"].token, FACT_KEY)
    assert confirm(users["second"], users["second"].token, FACT_KEY).status_code == 303
    assert fact_state(review_store)[2:] == (True, False)  # reviewed, not rejected
    first, second = corrections_table(review_store)
    assert (second["review_role"], bool(second["active"]), second["round_id"]) == ("second", True, first["id"])
    assert first["superseded_by"] == second["id"]
    assert [c["state"] for c in corrections_of(review_store, FACT_KEY)] == ["applied", "agreed"]
    assert FACT_KEY not in queue_for(review_store, None)
    stats = review_stats(review_store, EVERY_ITEM)
    assert [(a.group, a.rounds, a.agreed) for a in stats.by_pair] == [("reviewer & second", 1, 1)]


def test_double_review_disagreement_waits_for_an_admin_who_adjudicates(review_store, web_config):
    users = site(review_store, web_config, EVERY_ITEM)
    confirm(users["reviewer"], users["reviewer"].token, FACT_KEY)
    assert reject_fact(users["second"]).status_code == 303
    assert fact_state(review_store)[2:] == (False, False)  # neither decision applied
    assert FACT_KEY not in queue_for(review_store, None) and FACT_KEY not in queue_for(review_store, "third")
    assert users["second"].get("/admin/adjudication").status_code == 403  # admins only
    refused = confirm(users["second"], users["second"].token, FACT_KEY)
    assert refused.status_code == 400 and "adjudication" in refused.text

    page = users["admin"].get("/admin/adjudication").text
    assert page.count("<tr class=\"decision\">") == 2 and "Keep second's decision" in page
    rows = corrections_table(review_store)
    kept = next(r for r in rows if r["reviewer"] == "second")
    no_csrf = users["admin"].post("/admin/adjudication", data={"round_id": rows[0]["id"], "keep": kept["id"]})
    assert no_csrf.status_code == 403
    answer = users["admin"].post("/admin/adjudication", follow_redirects=False, data={
        "round_id": rows[0]["id"], "keep": kept["id"], "csrf_token": users["admin"].token})
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/adjudication?saved=1"
    assert fact_state(review_store)[2:] == (True, True)  # the kept decision, a rejection, is applied
    decision = corrections_table(review_store)[-1]
    assert (decision["reviewer"], decision["action"], decision["review_role"], bool(decision["active"])) == (
        "admin", "reject", "adjudication", True)
    assert "kept second's decision over reviewer's" in decision["comment"]
    assert [c["state"] for c in corrections_of(review_store, FACT_KEY)] == ["applied", "adjudicated", "adjudicated"]
    assert 'id="none-disputed"' in users["admin"].get("/admin/adjudication").text
    twice = users["admin"].post("/admin/adjudication", data={
        "round_id": rows[0]["id"], "keep": kept["id"], "csrf_token": users["admin"].token})
    assert twice.status_code == 400 and "not waiting for adjudication" in twice.text


def test_double_review_admin_deciding_a_disputed_item_on_its_page_settles_it(review_store, web_config):
    users = site(review_store, web_config, EVERY_ITEM)
    confirm(users["reviewer"], users["reviewer"].token, FACT_KEY)
    reject_fact(users["second"])
    page = users["admin"].get("/review/item", params={"key": FACT_KEY}).text
    assert 'id="disputed"' in page and page.count("<td>disputed</td>") == 2  # the admin sees both decisions
    assert confirm(users["admin"], users["admin"].token, FACT_KEY).status_code == 303
    assert fact_state(review_store)[2:] == (True, False)
    assert corrections_table(review_store)[-1]["review_role"] == "adjudication"


def test_double_review_every_item_that_changes_a_tally_gets_two_reviewers(review_store, web_config):
    persist.write_register(review_store, [Activity(activity_id_for("doc-a"), "Kim Jong Un", None, None, "T",
                                                   "inspection", "military", None, None, ("doc-a",))])
    users = site(review_store, web_config, TALLIES_ONLY)
    activity = activity_key(activity_id_for("doc-a"))
    for key in (activity, SECTOR_KEY, FACT_KEY):  # the document's sector names the activity's sector
        assert confirm(users["reviewer"], users["reviewer"].token, key).status_code == 303
    roles = {r["target_key"]: (r["review_role"] if isinstance(r["review_role"], str) else None, bool(r["active"]))
             for r in corrections_table(review_store)}
    assert roles == {activity: ("first", False), SECTOR_KEY: ("first", False), FACT_KEY: (None, True)}


def test_double_review_batch_confirm_goes_through_the_double_review(review_store, web_config):
    users = site(review_store, web_config, EVERY_ITEM)
    answer = users["reviewer"].post("/review/confirm-batch", follow_redirects=False, data={
        "key": [FACT_KEY, SECTOR_KEY], "csrf_token": users["reviewer"].token})
    assert answer.status_code == 303
    assert {(r["review_role"], bool(r["active"])) for r in corrections_table(review_store)} == {("first", False)}
    assert queue_for(review_store, "reviewer") == [] and len(queue_for(review_store, "second")) == 2


# --- statistics ---------------------------------------------------------------------------------


def two_rounds(review_store, web_config) -> dict[str, TestClient]:
    """One round agreed (the fact), one disputed (the sector)."""
    users = site(review_store, web_config, EVERY_ITEM)
    for name in ("reviewer", "second"):
        confirm(users[name], users[name].token, FACT_KEY)
    confirm(users["reviewer"], users["reviewer"].token, SECTOR_KEY)
    users["second"].post("/review/sector", data={"key": SECTOR_KEY, "sector": "economic",
                                                 "csrf_token": users["second"].token})
    return users


def test_review_stats_agreement_per_pair_and_kind_and_throughput(review_store, web_config):
    two_rounds(review_store, web_config)
    stats = review_stats(review_store, EVERY_ITEM)
    # (reviewer's, second's) decisions: (confirm, confirm) and (confirm, set economic): observed agreement
    # 1/2; chance: the reviewer always confirmed, the second confirmed half the time: 1 x 1/2; kappa 0
    assert [(a.group, a.rounds, a.agreed, a.kappa) for a in stats.by_pair] == [("reviewer & second", 2, 1, 0.0)]
    assert [(a.group, a.rounds, a.agreed) for a in stats.by_kind] == [("fact", 1, 1), ("sector", 1, 0)]
    assert (stats.waiting_for_second, stats.disputed) == (0, 1)
    assert {t.reviewer: t.decisions for t in stats.throughput} == {"reviewer": 2, "second": 2}
    assert all(t.per_hour and t.per_hour > 0 for t in stats.throughput)


def test_review_stats_page_is_for_admins_and_shows_kappa_and_throughput(review_store, web_config):
    users = two_rounds(review_store, web_config)
    assert users["reviewer"].get("/admin/review-stats").status_code == 403
    page = users["admin"].get("/admin/review-stats").text
    assert "reviewer &amp; second" in page and '<td class="kappa">0.00</td>' in page
    assert '<table id="throughput">' in page and '<span id="disputed">1</span>' in page


def test_cli_review_stats_prints_agreement_and_throughput(review_store, web_config):
    two_rounds(review_store, web_config)
    result = CliRunner().invoke(cli, ["--db", web_config.store.url, "review", "stats"])
    assert result.exit_code == 0, result.output
    assert "disputed, waiting for an admin: 1" in result.output
    pair = next(line for line in result.output.splitlines() if line.startswith("reviewer & second"))
    assert pair.split()[-3:] == ["2", "1", "0.00"]
    assert next(line for line in result.output.splitlines() if line.startswith("sector")).split()[1:] == ["1", "0", "0.00"]
    assert any(line.split()[:2] == ["second", "2"] for line in result.output.splitlines())
