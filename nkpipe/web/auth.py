"""Sign-in, roles and CSRF checks as FastAPI dependencies.

Pages need a live session (else a redirect to /login); every POST also needs the
session's CSRF token in its form (else 403). The login form, which has no session
yet, carries a token bound to a short-lived cookie instead (double submit).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from fastapi import Depends, HTTPException, Request

from pipeline.accounts import Session, find_session

SESSION_COOKIE = "nkpipe_session"
LOGIN_CSRF_COOKIE = "nkpipe_login_csrf"


class LoginRequired(Exception):
    """No live session: the app answers with a redirect to the login page."""

    def __init__(self, next_path: str | None) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def current_session(request: Request) -> Session:
    session = find_session(request.app.state.store, request.cookies.get(SESSION_COOKIE))
    if session is None:
        # Back to the page asked for after signing in; never to a POST path, which has no page.
        query = f"?{request.url.query}" if request.url.query else ""
        raise LoginRequired(request.url.path + query if request.method == "GET" else None)
    return session


def _check_role(session: Session, role: str) -> Session:
    if not session.user.can(role):
        raise HTTPException(403, f"this page needs the {role} role; you are signed in as {session.user.role}")
    return session


def page_for(role: str) -> Callable[..., Session]:
    """A dependency: the session of a user with at least ``role``, for GET pages."""

    def dependency(session: Session = Depends(current_session)) -> Session:
        return _check_role(session, role)

    return dependency


def form_for(role: str) -> Callable[..., object]:
    """A dependency for POSTs: ``role`` plus the session's CSRF token in the form."""

    async def dependency(request: Request, session: Session = Depends(current_session)) -> Session:
        form = await request.form()
        check_csrf(str(form.get("csrf_token") or ""), session.csrf_token)
        return _check_role(session, role)

    return dependency


def check_csrf(sent: str, expected: str) -> None:
    if not sent or not secrets.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(403, "the form's security token is missing or wrong; reload the page and try again")


def new_login_token() -> str:
    return secrets.token_urlsafe(32)
