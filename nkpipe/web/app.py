"""The review UI: ``create_app(config)`` returns the FastAPI application ``nkpipe serve`` runs.

Server-rendered pages (Jinja2 with autoescaping). The one script, ``static/review-keys.js``,
adds keyboard shortcuts to the review pages by pressing their own buttons; every page works
without it, and the Content-Security-Policy allows no script but the site's own files.
Roles: analysts see the dashboard and manage sources, reviewers also correct, admins also
manage accounts.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import httpx
import jinja2
from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from nkpipe.web.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    LoginRequired,
    check_csrf,
    form_for,
    new_login_token,
    page_for,
)
from nkpipe.web.review_admin import review_admin_routes
from nkpipe.web.throttle import LoginThrottle
from nkpipe.web.workbench import workbench_routes
from pipeline import accounts, corrections, review_queue
from pipeline.accounts import Session
from pipeline.addresses import ANY, PUBLIC, refuse_private_source
from pipeline.config import Config
from pipeline.errors import NkpipeError
from pipeline.keys import alias_key
from pipeline.records import SECTORS, SOURCE_KINDS
from pipeline.sources import SourceSpec, parse_published, register_source
from pipeline.store import ledger, open_store, signal_rows
from pipeline.store.db import Store

HERE = Path(__file__).resolve().parent
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; object-src 'none'; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
QUEUE_PAGE_SIZE = 50
BATCH_CONFIRM_LIMIT = 200  # more than a queue page holds: a larger batch is not a reviewer's selection
QUEUE_FILTERS = ("kind", "sector", "source", "date_from", "date_to", "reviewed")
# Where a decision leaves the reviewer: on the item (stay), on the queue's next item (next), or back
# on the queue page, on the position the decided item had (queue).
AFTER_DECISION = ("stay", "next", "queue")
PASSWORD_CHECK_WAIT_S = 10.0


def templates() -> Jinja2Templates:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                                     undefined=jinja2.StrictUndefined)
    return Jinja2Templates(env=environment)


def create_app(config: Config, store: Store | None = None) -> FastAPI:
    app = FastAPI(title="nkpipe review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.config = config
    app.state.store = store or open_store(config.store.url)
    app.state.templates = templates()
    app.state.login_throttle = LoginThrottle(config.web.login_failures_allowed,
                                             config.web.login_failure_window_minutes * 60)
    # Each Argon2 check takes hash_memory_kib: a burst of sign-ins must not take the machine's memory.
    app.state.password_checks = threading.BoundedSemaphore(config.web.concurrent_password_checks)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _install_handlers(app)
    for register in (_auth_routes, _dashboard_routes, _review_routes, _people_routes, _source_routes, _user_routes,
                     review_admin_routes, workbench_routes):
        register(app)
    return app


def server_config(app: FastAPI, config: Config, host: str | None = None, port: int | None = None):
    """How ``nkpipe serve`` runs the app under uvicorn.

    X-Forwarded-For and X-Forwarded-Proto are believed only from ``[web] trusted_proxies``:
    uvicorn's default trusts them from 127.0.0.1, which lets any client behind a local proxy or
    tunnel choose the address the login throttle counts.
    """
    import uvicorn

    trusted = config.web.trusted_proxies.strip()
    return uvicorn.Config(app, host=host or config.web.host, port=port or config.web.port, log_level="info",
                          proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None)


def _install_handlers(app: FastAPI) -> None:
    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired):
        if exc.next_path is None:
            return RedirectResponse("/login", status_code=303)
        return RedirectResponse(f"/login?next={quote(exc.next_path, safe='')}", status_code=303)

    # Starlette's own exception (unknown path 404, wrong method 405) as well as ours: an HTML page, not JSON.
    @app.exception_handler(StarletteHTTPException)
    async def error_page(request: Request, exc: StarletteHTTPException):
        page = render(request, "error.html", None, status_code=exc.status_code,
                      status=exc.status_code, message=exc.detail)
        page.headers.update(exc.headers or {})  # e.g. Allow on a 405
        return page

    @app.exception_handler(RequestValidationError)
    async def form_error_page(request: Request, exc: RequestValidationError):
        fields = ", ".join(sorted({str(e["loc"][-1]) for e in exc.errors()}))
        return render(request, "error.html", None, status_code=422, status=422,
                      message=f"the form's fields {fields} are missing or not valid; reload the page and try again")


def render(request: Request, name: str, session: Session | None, status_code: int = 200, **context) -> Response:
    context.update(session=session, user=session.user if session else None,
                   csrf_token=session.csrf_token if session else "")
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status_code)


def _store(request: Request) -> Store:
    return request.app.state.store


def _config(request: Request) -> Config:
    return request.app.state.config


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _safe_next(path: str | None) -> str:
    """Only a path on this site: never an absolute URL an attacker put in ?next=.

    Browsers read a backslash as a slash and drop tabs and newlines, so ``/\\evil.example``
    or ``/<tab>/evil.example`` would lead off-site: both are refused.
    """
    if (not path or not path.startswith("/") or path.startswith("//") or "\\" in path
            or any(ord(c) < 32 or ord(c) == 127 for c in path) or urlsplit(path).netloc):
        return "/"
    return path


# --- sign-in ---------------------------------------------------------------------------------


def _auth_routes(app: FastAPI) -> None:
    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/"):
        return _login_form(request, _safe_next(next), None, 200)

    @app.post("/login")
    def login(request: Request, name: str = Form(""), password: str = Form(""),
              csrf_token: str = Form(""), next: str = Form("/")):
        check_csrf(csrf_token, request.cookies.get(LOGIN_CSRF_COOKIE, ""))
        throttle: LoginThrottle = request.app.state.login_throttle
        address = request.client.host if request.client else "unknown"
        attempt = throttle.attempt(name, address)
        if isinstance(attempt, int):
            response = _login_form(request, _safe_next(next), "Too many failed sign-ins for this account or "
                                   f"address; try again in {math.ceil(attempt / 60)} min.", 429)
            response.headers["Retry-After"] = str(attempt)
            return response
        checks = request.app.state.password_checks
        if not checks.acquire(timeout=PASSWORD_CHECK_WAIT_S):
            response = _login_form(request, _safe_next(next), "The server is busy checking other sign-ins; "
                                   "try again in a moment.", 503)
            response.headers["Retry-After"] = "5"
            return response
        try:
            user = accounts.authenticate(_store(request), name.strip(), password, _config(request).web)
        finally:
            checks.release()
        if user is None:
            return _login_form(request, _safe_next(next), "Wrong name or password, or the account is disabled.", 401)
        throttle.succeeded(attempt)
        response = _see_other(_safe_next(next))
        _set_cookie(request, response, SESSION_COOKIE,
                    accounts.start_session(_store(request), user, _config(request).web),
                    int(_config(request).web.session_hours * 3600))
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    @app.post("/logout")
    def logout(request: Request, session: Session = Depends(form_for("analyst"))):
        accounts.end_session(_store(request), request.cookies.get(SESSION_COOKIE))
        response = _see_other("/login")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


def _login_form(request: Request, next_path: str, error: str | None, status_code: int) -> Response:
    token = new_login_token()
    response = render(request, "login.html", None, status_code, next=next_path, error=error, login_token=token)
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, 1800, path="/login")
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int, path: str = "/") -> None:
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite="strict",
                        secure=_config(request).web.secure_cookies)


# --- dashboard -------------------------------------------------------------------------------


def prefect_ui_url(config: Config) -> str | None:
    """The local Prefect UI's address when its server answers on 127.0.0.1, else None."""
    base = f"http://127.0.0.1:{config.schedule.server_port}"
    try:
        answer = httpx.get(f"{base}/api/health", timeout=config.web.prefect_probe_timeout_s)
    except httpx.HTTPError:
        return None
    return base if answer.status_code == 200 else None


def _dashboard_routes(app: FastAPI) -> None:
    @app.get("/", response_class=HTMLResponse)
    def dashboard(request: Request, session: Session = Depends(page_for("analyst"))):
        store = _store(request)
        return render(request, "dashboard.html", session, runs=ledger.recent_runs(store, 10),
                      problems=ledger.recent_problems(store, 10), reviewed=review_queue.reviewed_counts(store),
                      corrections=review_queue.recent_corrections(store, 10, session.user.name),
                      lapsed=review_queue.count_lapsed_fact_corrections(store),
                      signals=signal_rows.stored_signals(store),
                      prefect_url=prefect_ui_url(_config(request)))


# --- review queue and corrections --------------------------------------------------------------


def _queue_filter(session: Session, kind: str, sector: str, source: str, date_from: str, date_to: str,
                  reviewed: str) -> review_queue.QueueFilter:
    """The queue's filter as ``session``'s user sees it (without the items they decided in a double review)."""
    try:
        return review_queue.QueueFilter(
            kind=kind if kind in review_queue.QUEUE_KINDS else None, sector=sector if sector in SECTORS else None,
            source_id=int(source) if source.strip() else None,
            date_from=date.fromisoformat(date_from) if date_from else None,
            date_to=date.fromisoformat(date_to) if date_to else None, include_reviewed=reviewed == "1",
            reviewer=session.user.name)
    except ValueError as exc:
        raise HTTPException(400, f"a filter is not valid ({exc}); use a source id number and YYYY-MM-DD dates") from exc


@dataclass(frozen=True)
class Then:
    """What opens after a decision (one of AFTER_DECISION), in the queue the item was opened from.

    ``queue`` is that queue page's filters and page number as a query string, rebuilt from the
    known names only: it ends up in redirects, so nothing a client sent passes through raw;
    ``wanted`` is its filter. ``at`` is the decided item's position on that page (1-based).
    """

    after: str = "stay"
    queue: str = ""
    wanted: review_queue.QueueFilter = review_queue.QueueFilter()
    at: int = 1


def _then(session: Session, after: str, queue: str, at: str = "") -> Then:
    """The redirect a decision form asks for; an unknown ``after`` stays on the item. Bad filters are
    refused (400) here, before anything is stored."""
    context = _queue_context(parse_qsl(queue))
    params = dict(parse_qsl(context))
    return Then(after if after in AFTER_DECISION else "stay", context,
                _queue_filter(session, *(params.get(name, "") for name in QUEUE_FILTERS)),
                int(at) if re.fullmatch(r"[0-9]{1,4}", at) and int(at) > 0 else 1)


def _queue_context(pairs: Iterable[tuple[str, str]]) -> str:
    """The queue's filters and page of these query pairs, in their order, as a query string."""
    return urlencode([(name, value) for name, value in pairs if name in (*QUEUE_FILTERS, "page") and value])


def _review_routes(app: FastAPI) -> None:
    @app.get("/review", response_class=HTMLResponse)
    def queue(request: Request, kind: str = "", sector: str = "", source: str = "", date_from: str = "",
              date_to: str = "", reviewed: str = "", page: str = "1", confirmed: str = "", end: str = "",
              session: Session = Depends(page_for("reviewer"))):
        wanted = _queue_filter(session, kind, sector, source, date_from, date_to, reviewed)
        if not re.fullmatch(r"[0-9]{1,6}", page) or int(page) < 1:
            raise HTTPException(400, f"page {page[:20]!r} is not a page number; pages start at 1")
        shown = review_queue.review_queue_page(_store(request), wanted, int(page), QUEUE_PAGE_SIZE)
        context = _queue_context(request.query_params.multi_items())
        return render(request, "queue.html", session, queue=shown, items=shown.items,
                      wanted=wanted, kinds=review_queue.QUEUE_KINDS, sectors=SECTORS,
                      sources=ledger.list_sources(_store(request)), context=context,
                      item_url=lambda key: _item_url(key, context),
                      page_url=lambda number: _page_url(request, number),
                      confirmed=int(confirmed) if re.fullmatch(r"[0-9]{1,4}", confirmed) else 0, end=end == "1")

    @app.get("/review/item", response_class=HTMLResponse)
    def item(request: Request, key: str, saved: str = "", queue: str = "", done: str = "",
             session: Session = Depends(page_for("reviewer"))):
        return _item_page(request, session, key, saved == "1", None, 200, _then(session, "stay", queue), done == "1")

    @app.get("/review/step")
    def step(request: Request, key: str, queue: str = "", to: str = "next",
             session: Session = Depends(page_for("reviewer"))):
        """The next (or previous) item of the queue from this one: the j and k keys, and links without script."""
        then = _then(session, "next", queue)
        found = _find_item(request, key)
        backwards = to == "previous"
        neighbour = review_queue.neighbour_key(_store(request), then.wanted, found.place, -1 if backwards else 1)
        if neighbour is None:  # past either end: the queue, saying so after the last item
            return _see_other(_queue_url(then.queue) if backwards else _queue_url(then.queue, end="1"))
        return _see_other(_item_url(neighbour, then.queue))

    @app.post("/review/sector")
    def correct_sector(request: Request, key: str = Form(...), sector: str = Form(...), comment: str = Form(""),
                       after: str = Form("stay"), queue: str = Form(""), at: str = Form(""),
                       session: Session = Depends(form_for("reviewer"))):
        return _correct(request, session, key, "set", sector, "sector", comment,
                        _then(session, after, queue, at))

    @app.post("/review/fact")
    async def correct_fact(request: Request, session: Session = Depends(form_for("reviewer"))):
        form = {k: str(v) for k, v in (await request.form()).items()}
        key, action = form.get("key", ""), form.get("action", "set")
        then = _then(session, form.get("after", "stay"), form.get("queue", ""), form.get("at", ""))
        try:
            edit = corrections.parse_fact_edit(form) if action == "set" else None
        except NkpipeError as exc:
            return _item_page(request, session, key, False, str(exc), 400, then)
        return _correct(request, session, key, action, edit, None, form.get("comment", ""), then)

    @app.post("/review/activity")
    def decide_activity(request: Request, key: str = Form(...), action: str = Form("not_activity"),
                        comment: str = Form(""), after: str = Form("stay"), queue: str = Form(""),
                        at: str = Form(""), session: Session = Depends(form_for("reviewer"))):
        return _correct(request, session, key, action, action == "is_activity", "is_activity", comment,
                        _then(session, after, queue, at))

    @app.post("/review/confirm")
    def confirm(request: Request, key: str = Form(...), comment: str = Form(""), after: str = Form("stay"),
                queue: str = Form(""), at: str = Form(""), session: Session = Depends(form_for("reviewer"))):
        if key.startswith("alias:"):  # a person alias has no item page: its confirmation is on the people page
            return _confirm_alias(request, session, key, comment)
        return _correct(request, session, key, corrections.CONFIRM, None, None, comment,
                        _then(session, after, queue, at))

    @app.post("/review/confirm-batch")
    def confirm_batch(request: Request, key: list[str] = Form([]), queue: str = Form(""),
                      session: Session = Depends(form_for("reviewer"))):
        then = _then(session, "queue", queue)
        keys = list(dict.fromkeys(key))  # a key ticked twice is one decision
        if not keys:
            raise HTTPException(400, "no item was selected; tick the items to confirm, then press Confirm selected")
        if len(keys) > BATCH_CONFIRM_LIMIT:
            raise HTTPException(400, f"{len(keys)} items in one batch; confirm at most {BATCH_CONFIRM_LIMIT} at once")
        try:
            corrections.record_decisions(_store(request), [corrections.confirmation(k, session.user.name) for k in keys],
                                         _config(request).review, may_adjudicate=session.user.can("admin"))
        except NkpipeError as exc:
            raise HTTPException(400, f"nothing was confirmed: {exc}") from exc
        return _see_other(_queue_url(then.queue, confirmed=str(len(keys))))


def _page_url(request: Request, number: int) -> str:
    """This queue page's address with the same filters, showing page ``number``."""
    return _queue_url(_queue_context(request.query_params.multi_items()), page=str(number))


def _queue_url(context: str, **extra: str) -> str:
    """The queue page of a context (see ``Then``), with ``extra`` parameters (a page, a message) replacing its own."""
    query = urlencode([*((k, v) for k, v in parse_qsl(context) if k not in extra), *extra.items()])
    return "/review?" + query if query else "/review"


def _item_url(key: str, queue: str = "", saved: bool = False, done: bool = False) -> str:
    return (f"/review/item?key={quote(key, safe='')}" + ("&saved=1" if saved else "") + ("&done=1" if done else "")
            + (f"&queue={quote(queue, safe='')}" if queue else ""))


def _find_item(request: Request, key: str) -> review_queue.QueueItem:
    try:
        found = review_queue.find_item(_store(request), key)
    except NkpipeError as exc:
        raise HTTPException(400, str(exc)) from exc
    if found is None:
        raise HTTPException(404, f"nothing to review has the key {key}; it may have changed in a later run")
    return found


def _item_page(request: Request, session: Session, key: str, saved: bool, error: str | None,
               status_code: int, then: Then = Then(), done: bool = False) -> Response:
    found = _find_item(request, key)
    steps = {to: "/review/step?" + urlencode({"key": key, **({"queue": then.queue} if then.queue else {}), "to": to})
             for to in ("previous", "next")}
    history = review_queue.corrections_of(_store(request), key)
    return render(request, "item.html", session, status_code, item=found, saved=saved, error=error, done=done,
                  history=blind_history(history, session), round_state=_round_state(history, session),
                  sectors=SECTORS,
                  context=then.queue, queue_url=_queue_url(then.queue), steps=steps)


HELD_STATES = ("awaiting a second review", "disputed")  # pipeline.store.correction_rows.correction_state


def blind_history(history: list[dict], session: Session) -> list[dict]:
    """An item's corrections as its reviewer may see them: a double review's held decisions of others are
    left out (the second reviewer, an admin too, decides blind), until they disagree: then an admin, who
    settles it, sees both."""
    if session.user.can("admin") and any(c["state"] == "disputed" for c in history):
        return history
    return [c for c in history if c["state"] not in HELD_STATES or c["reviewer"] == session.user.name]


def _round_state(history: list[dict], session: Session) -> str | None:
    """Where the item's double review stands for this user: "yours" (they decided; it waits for someone
    else), "disputed" (it waits for an admin), or None (no round is open, or it waits for their decision)."""
    held = [c for c in history if c["state"] in HELD_STATES]
    if any(c["state"] == "disputed" for c in held):
        return "disputed"
    return "yours" if any(c["reviewer"] == session.user.name for c in held) else None


def _correct(request: Request, session: Session, key: str, action: str, new_value, field: str | None,
             comment: str, then: Then = Then()) -> Response:
    try:
        found = review_queue.find_item(_store(request), key)
        if found is None:
            raise HTTPException(404, f"nothing to review has the key {key}")
        corrections.record_decision(_store(request), corrections.Correction(
            key, action, session.user.name, new_value, _old_value(found, field), field,
            comment.strip() or None, found.document_id), _config(request).review, session.user.can("admin"))
    except NkpipeError as exc:
        return _item_page(request, session, key, False, str(exc), 400, then)
    return _see_other(_after_decision(request, found, then))


def _after_decision(request: Request, decided: review_queue.QueueItem, then: Then) -> str:
    """Where the reviewer goes once ``decided`` is recorded (see ``Then``)."""
    if then.after == "next":
        following = review_queue.neighbour_key(_store(request), then.wanted, decided.place, wrap=True)
        return _item_url(following, then.queue, done=True) if following else _queue_url(then.queue, end="1")
    if then.after == "queue":
        # Unreviewed items leave the queue once decided, so the next one moves up into their place.
        position = then.at + 1 if then.wanted.include_reviewed else then.at
        return f"{_queue_url(then.queue)}#item-{position}"
    return _item_url(decided.key, then.queue, saved=True)


def _confirm_alias(request: Request, session: Session, key: str, comment: str) -> Response:
    try:
        corrections.record_correction(_store(request), corrections.confirmation(
            key, session.user.name, comment.strip() or None))
    except NkpipeError as exc:
        return _people_page(request, session, False, str(exc), 400)
    return _see_other("/review/people?saved=1")


def _old_value(found: review_queue.QueueItem, field: str | None):
    if found.kind == "fact":
        return {k: found.values.get(k) for k in corrections.FACT_FIELDS}
    if found.kind == "activity":
        return False if found.values.get("rejected") else True
    return found.values.get(field) if field else None


# --- people (alias merge and split) ------------------------------------------------------------


def _people_routes(app: FastAPI) -> None:
    @app.get("/review/lapsed", response_class=HTMLResponse)
    def lapsed(request: Request, session: Session = Depends(page_for("reviewer"))):
        return render(request, "lapsed.html", session, lapsed=review_queue.lapsed_fact_corrections(_store(request)))

    @app.get("/review/people", response_class=HTMLResponse)
    def people(request: Request, saved: str = "", session: Session = Depends(page_for("reviewer"))):
        return _people_page(request, session, saved == "1", None, 200)

    @app.post("/review/alias")
    def correct_alias(request: Request, alias: str = Form(...), action: str = Form(...), person: str = Form(""),
                      comment: str = Form(""), session: Session = Depends(form_for("reviewer"))):
        try:
            if action not in ("merge", "split"):
                raise NkpipeError(f"unknown alias action {action!r}; merge or split")
            target = corrections.alias_target(_store(request), alias, action, person)
            corrections.record_correction(_store(request), corrections.Correction(
                alias_key(alias), action, session.user.name, target, target.pop("previous"), "person_id",
                comment.strip() or None))
        except NkpipeError as exc:
            return _people_page(request, session, False, str(exc), 400)
        return _see_other("/review/people?saved=1")


def _people_page(request: Request, session: Session, saved: bool, error: str | None, status_code: int) -> Response:
    return render(request, "people.html", session, status_code, aliases=review_queue.person_aliases_overview(_store(request)),
                  saved=saved, error=error)


# --- sources -----------------------------------------------------------------------------------


def _source_routes(app: FastAPI) -> None:
    @app.get("/sources", response_class=HTMLResponse)
    def sources_page(request: Request, session: Session = Depends(page_for("analyst"))):
        return _sources_page(request, session, None, 200)

    @app.post("/sources")
    def add_source(request: Request, url: str = Form(...), kind: str = Form(""), name: str = Form(""),
                   published: str = Form(""), source_type: str = Form(""), link_pattern: str = Form(""),
                   state_media: str = Form(""), session: Session = Depends(form_for("analyst"))):
        try:
            if not url.strip().lower().startswith(("http://", "https://")):
                raise NkpipeError(f"{url!r}: the web page adds http(s) URLs only; "
                                  f"register local files on the server with `nkpipe sources add`")
            policy = ANY if _config(request).web.allow_private_sources else PUBLIC
            if policy == PUBLIC:
                refuse_private_source(url.strip())  # now, for a clear message; every fetch checks again
            register_source(_store(request), SourceSpec(url.strip(), kind or None, name.strip() or None,
                                                        parse_published(published.strip() or None),
                                                        source_type.strip() or None, link_pattern.strip() or None,
                                                        state_media=state_media == "1"),
                            address_policy=policy)
        except NkpipeError as exc:
            return _sources_page(request, session, str(exc), 400)
        return _see_other("/sources")

    @app.post("/sources/{source_id}/enabled")
    def enable_source(request: Request, source_id: int, enabled: str = Form(...),
                      session: Session = Depends(form_for("analyst"))):
        if not 0 < source_id < 2**31:  # a database integer: larger ids exist nowhere
            raise HTTPException(404, f"no source has id {source_id}")
        try:
            ledger.set_source_enabled(_store(request), source_id, enabled == "1")
        except NkpipeError as exc:
            raise HTTPException(404, str(exc)) from exc
        return _see_other("/sources")


def _sources_page(request: Request, session: Session, error: str | None, status_code: int) -> Response:
    return render(request, "sources.html", session, status_code, sources=ledger.source_overview(_store(request)),
                  kinds=SOURCE_KINDS, error=error)


# --- accounts ----------------------------------------------------------------------------------


def _user_routes(app: FastAPI) -> None:
    @app.get("/admin/users", response_class=HTMLResponse)
    def users_page(request: Request, session: Session = Depends(page_for("admin"))):
        return _users_page(request, session, None, 200)

    @app.post("/admin/users")
    def add_user(request: Request, name: str = Form(...), role: str = Form(...), password: str = Form(...),
                 session: Session = Depends(form_for("admin"))):
        return _change_users(request, session, lambda store, web: accounts.add_user(store, name.strip(), role,
                                                                                       password, web))

    # An admin cannot lock themself out (and perhaps leave no admin at all): another admin must do it.
    @app.post("/admin/users/{name}/role")
    def change_role(request: Request, name: str, role: str = Form(...), session: Session = Depends(form_for("admin"))):
        if name == session.user.name and role != session.user.role:
            return _users_page(request, session, "you cannot change the role of your own account; "
                                                 "ask another admin (or use `nkpipe users set-role`)", 400)
        return _change_users(request, session, lambda store, web: accounts.set_role(store, name, role))

    @app.post("/admin/users/{name}/disabled")
    def disable_user(request: Request, name: str, disabled: str = Form(...),
                     session: Session = Depends(form_for("admin"))):
        if name == session.user.name and disabled == "1":
            return _users_page(request, session, "you cannot disable your own account; ask another admin "
                                                 "(or use `nkpipe users disable`)", 400)
        return _change_users(request, session, lambda store, web: accounts.set_disabled(store, name, disabled == "1"))


def _change_users(request: Request, session: Session, change) -> Response:
    try:
        change(_store(request), _config(request).web)
    except NkpipeError as exc:
        return _users_page(request, session, str(exc), 400)
    return _see_other("/admin/users")


def _users_page(request: Request, session: Session, error: str | None, status_code: int) -> Response:
    return render(request, "users.html", session, status_code, accounts=accounts.list_users(_store(request)),
                  roles=accounts.ROLES, error=error)

