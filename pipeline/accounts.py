"""Accounts, roles, server-side sessions and API tokens of the review UI.

Passwords are hashed with Argon2id (argon2-cffi): slow, salted, with the parameters
stored in the hash. A session is a random token in an HttpOnly cookie; only its
sha256 is stored, beside the session's CSRF token and expiry, so deleting the row
(sign-out, account disabled) ends the session at once. An API token (one per account,
for the workbench's read-only JSON API) is kept the same way: only its sha256.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pipeline.config import WebConfig
from pipeline.errors import AuthError
from pipeline.store.db import Store, api_tokens, users, utcnow, web_sessions

# Each role can do everything the roles before it can.
ROLES = ("analyst", "reviewer", "admin")
MIN_PASSWORD_CHARS = 10
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    disabled: bool
    created_at: datetime

    def can(self, role: str) -> bool:
        """True when this user's role includes ``role`` (admin > reviewer > analyst)."""
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    expires_at: datetime


def password_hasher(config: WebConfig) -> PasswordHasher:
    return PasswordHasher(time_cost=config.hash_time_cost, memory_cost=config.hash_memory_kib)


def _user(row: sa.Row) -> User:
    return User(row.id, row.name, row.role, bool(row.disabled), row.created_at)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AuthError(f"the password has {len(password)} characters; use at least {MIN_PASSWORD_CHARS}")
    return password


def add_user(store: Store, name: str, role: str, password: str, config: WebConfig) -> User:
    if not _NAME.match(name):
        raise AuthError(f"user name {name!r} is not valid; use 2-64 lower-case letters, digits, '.', '_' or '-'")
    check_role(role)
    hashed = password_hasher(config).hash(check_password(password))
    with store.writing() as conn:
        if conn.execute(sa.select(users.c.id).where(users.c.name == name)).first():
            raise AuthError(f"user {name!r} already exists; `nkpipe users list` shows the accounts")
        conn.execute(users.insert().values(name=name, role=role, password_hash=hashed,
                                           created_at=utcnow(), disabled=False))
    return get_user(store, name)


def get_user(store: Store, name: str) -> User:
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.name == name)).first()
    if row is None:
        raise AuthError(f"no user is called {name!r}; `nkpipe users list` shows the accounts")
    return _user(row)


def list_users(store: Store) -> list[User]:
    with store.engine.connect() as conn:
        return [_user(r) for r in conn.execute(sa.select(users).order_by(users.c.name))]


def set_role(store: Store, name: str, role: str) -> User:
    check_role(role)
    get_user(store, name)
    with store.writing() as conn:
        conn.execute(users.update().where(users.c.name == name).values(role=role))
    return get_user(store, name)


def set_password(store: Store, name: str, password: str, config: WebConfig) -> User:
    """Give an account a new password; its open sessions end, so an old sign-in cannot go on."""
    user = get_user(store, name)
    hashed = password_hasher(config).hash(check_password(password))
    with store.writing() as conn:
        conn.execute(users.update().where(users.c.id == user.id).values(password_hash=hashed))
        conn.execute(web_sessions.delete().where(web_sessions.c.user_id == user.id))
    return get_user(store, name)


def set_disabled(store: Store, name: str, disabled: bool) -> User:
    """Disable (or enable) an account; disabling also ends its open sessions and revokes its API token."""
    user = get_user(store, name)
    with store.writing() as conn:
        conn.execute(users.update().where(users.c.id == user.id).values(disabled=disabled))
        if disabled:
            conn.execute(web_sessions.delete().where(web_sessions.c.user_id == user.id))
            conn.execute(api_tokens.delete().where(api_tokens.c.user_id == user.id))
    return get_user(store, name)


def authenticate(store: Store, name: str, password: str, config: WebConfig) -> User | None:
    """The user when name and password match an enabled account, else None (never says which was wrong)."""
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.name == name)).first()
    hasher = password_hasher(config)
    if row is None:
        _spend_hash_time(hasher, password)  # an unknown name takes as long as a wrong password
        return None
    try:
        hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if row.disabled:
        return None
    if hasher.check_needs_rehash(row.password_hash):
        with store.writing() as conn:
            conn.execute(users.update().where(users.c.id == row.id).values(password_hash=hasher.hash(password)))
    return _user(row)


_DUMMY_HASHES: dict[tuple[int, int], str] = {}


def _spend_hash_time(hasher: PasswordHasher, password: str) -> None:
    key = (hasher.time_cost, hasher.memory_cost)
    if key not in _DUMMY_HASHES:
        _DUMMY_HASHES[key] = hasher.hash(secrets.token_hex(8))
    try:
        hasher.verify(_DUMMY_HASHES[key], password)
    except VerificationError:
        pass


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(store: Store, user: User, config: WebConfig) -> str:
    """A new session for ``user``; returns the token for the cookie (stored only as a hash)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with store.writing() as conn:
        conn.execute(web_sessions.delete().where(web_sessions.c.expires_at < now))
        conn.execute(web_sessions.insert().values(
            token_hash=_token_hash(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
            created_at=now, expires_at=now + timedelta(hours=config.session_hours)))
    return token


def find_session(store: Store, token: str | None) -> Session | None:
    """The live session of a cookie token, or None (unknown, expired, or its user disabled)."""
    if not token:
        return None
    query = (sa.select(web_sessions.c.csrf_token, web_sessions.c.expires_at, users)
             .join(users, users.c.id == web_sessions.c.user_id)
             .where(web_sessions.c.token_hash == _token_hash(token)))
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or row.disabled or _aware(row.expires_at) <= utcnow():
        return None
    return Session(_user(row), row.csrf_token, row.expires_at)


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; they were stored in UTC."""
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def end_session(store: Store, token: str | None) -> None:
    if token:
        with store.writing() as conn:
            conn.execute(web_sessions.delete().where(web_sessions.c.token_hash == _token_hash(token)))


API_TOKEN_PREFIX = "nkp_"  # says what the string is when it turns up in a log or a notebook


def issue_api_token(store: Store, name: str) -> str:
    """A new API token for the account ``name``, replacing its previous one (which stops working);
    returned once, stored only as a hash. Any role's token reads the API as an analyst."""
    user = get_user(store, name)
    if user.disabled:
        raise AuthError(f"the account {name!r} is disabled; enable it (`nkpipe users enable {name}`) first")
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.writing() as conn:
        conn.execute(api_tokens.delete().where(api_tokens.c.user_id == user.id))
        conn.execute(api_tokens.insert().values(token_hash=_token_hash(token), user_id=user.id, created_at=utcnow()))
    return token


def revoke_api_token(store: Store, name: str) -> bool:
    """Delete the account's API token; False when it had none."""
    user = get_user(store, name)
    with store.writing() as conn:
        return conn.execute(api_tokens.delete().where(api_tokens.c.user_id == user.id)).rowcount > 0


def find_token_user(store: Store, token: str | None) -> User | None:
    """The enabled account an API token belongs to, or None (unknown, revoked, re-issued or disabled)."""
    if not token:
        return None
    query = (sa.select(users).join(api_tokens, api_tokens.c.user_id == users.c.id)
             .where(api_tokens.c.token_hash == _token_hash(token)))
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None or row.disabled else _user(row)
