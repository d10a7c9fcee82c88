from datetime import timedelta

import pytest

from pipeline.accounts import (
    add_user,
    authenticate,
    end_session,
    find_session,
    list_users,
    set_disabled,
    set_password,
    set_role,
    start_session,
)
from pipeline.errors import AuthError
from pipeline.store.db import web_sessions


def test_accounts_password_is_stored_as_a_salted_argon2id_hash(store, web_config):
    add_user(store, "ana", "analyst", "correct horse", web_config.web)
    add_user(store, "bob", "analyst", "correct horse", web_config.web)
    hashes = store.engine.connect().exec_driver_sql("SELECT password_hash FROM users").scalars().all()
    assert all(h.startswith("$argon2id$") and "correct horse" not in h for h in hashes)
    assert hashes[0] != hashes[1]  # salted: the same password hashes differently


def test_accounts_authenticate_checks_password_and_disabled_flag(store, web_config):
    add_user(store, "ana", "reviewer", "correct horse", web_config.web)
    assert authenticate(store, "ana", "correct horse", web_config.web).role == "reviewer"
    assert authenticate(store, "ana", "wrong horse!", web_config.web) is None
    assert authenticate(store, "nobody", "correct horse", web_config.web) is None
    set_disabled(store, "ana", True)
    assert authenticate(store, "ana", "correct horse", web_config.web) is None


@pytest.mark.parametrize("name, role, password, message", [
    ("Ana Smith", "analyst", "long enough pw", "not valid"),
    ("ana", "editor", "long enough pw", "unknown role"),
    ("ana", "analyst", "short", "at least 10"),
])
def test_accounts_add_user_refuses_bad_input(store, web_config, name, role, password, message):
    with pytest.raises(AuthError, match=message):
        add_user(store, name, role, password, web_config.web)
    assert list_users(store) == []


def test_accounts_duplicate_name_is_refused(store, web_config):
    add_user(store, "ana", "analyst", "correct horse", web_config.web)
    with pytest.raises(AuthError, match="already exists"):
        add_user(store, "ana", "admin", "correct horse", web_config.web)


def test_accounts_roles_include_the_lower_ones(store, web_config):
    admin = add_user(store, "root", "admin", "correct horse", web_config.web)
    assert admin.can("analyst") and admin.can("reviewer") and admin.can("admin")
    analyst = set_role(store, "root", "analyst")
    assert analyst.can("analyst") and not analyst.can("reviewer")


def test_accounts_sessions_end_on_sign_out_disable_and_expiry(store, web_config):
    user = add_user(store, "ana", "analyst", "correct horse", web_config.web)
    token = start_session(store, user, web_config.web)
    session = find_session(store, token)
    assert session.user.name == "ana" and len(session.csrf_token) >= 32
    assert find_session(store, token + "x") is None
    end_session(store, token)
    assert find_session(store, token) is None
    token = start_session(store, user, web_config.web)
    set_disabled(store, "ana", True)
    assert find_session(store, token) is None
    set_disabled(store, "ana", False)
    token = start_session(store, user, web_config.web)
    with store.engine.begin() as conn:
        conn.execute(web_sessions.update().values(expires_at=session.expires_at - timedelta(days=2)))
    assert find_session(store, token) is None


def test_accounts_session_token_is_not_stored(store, web_config):
    user = add_user(store, "ana", "analyst", "correct horse", web_config.web)
    token = start_session(store, user, web_config.web)
    stored = store.engine.connect().exec_driver_sql("SELECT token_hash FROM web_sessions").scalar()
    assert stored != token and len(stored) == 64


def test_accounts_set_password_replaces_the_hash_and_ends_sessions(store, web_config):
    user = add_user(store, "ana", "reviewer", "correct horse", web_config.web)
    token = start_session(store, user, web_config.web)
    set_password(store, "ana", "battery staple", web_config.web)
    assert authenticate(store, "ana", "correct horse", web_config.web) is None
    assert authenticate(store, "ana", "battery staple", web_config.web).name == "ana"
    assert find_session(store, token) is None
    with pytest.raises(AuthError, match="at least"):
        set_password(store, "ana", "short", web_config.web)
