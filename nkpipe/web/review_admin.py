"""The admin's pages of the double review: the adjudication of disputed items, and the review statistics
(agreement as Cohen's kappa per reviewer pair and per item kind, and each reviewer's throughput).

The decisions are ``pipeline.corrections``'; what is shown is read by ``pipeline.review_queue`` and
``pipeline.review_stats``.
"""

from __future__ import annotations

import re

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from nkpipe.web.auth import form_for, page_for
from nkpipe.web.tables import render_page
from pipeline import corrections, review_queue, review_stats
from pipeline.accounts import Session
from pipeline.agreement import decision_label
from pipeline.errors import NkpipeError

_ID = re.compile(r"[0-9]{1,9}")


def review_admin_routes(app: FastAPI) -> None:
    @app.get("/admin/adjudication", response_class=HTMLResponse)
    def adjudication(request: Request, saved: str = "", session: Session = Depends(page_for("admin"))):
        return render_page(request, "adjudication.html", session, saved=saved == "1",
                           rounds=review_queue.disputed_rounds(request.app.state.store), describe=describe)

    @app.post("/admin/adjudication")
    def adjudicate(request: Request, round_id: str = Form(...), keep: str = Form(...),
                   session: Session = Depends(form_for("admin"))) -> Response:
        if not (_ID.fullmatch(round_id) and _ID.fullmatch(keep)):
            raise HTTPException(400, "round_id and keep are the numbers the adjudication page sends; reload it")
        try:
            corrections.adjudicate(request.app.state.store, int(round_id), int(keep), session.user.name)
        except NkpipeError as exc:
            raise HTTPException(400, str(exc)) from exc
        return RedirectResponse("/admin/adjudication?saved=1", status_code=303)

    @app.get("/admin/review-stats", response_class=HTMLResponse)
    def stats(request: Request, session: Session = Depends(page_for("admin"))):
        found = review_stats.review_stats(request.app.state.store, request.app.state.config.review)
        return render_page(request, "review_stats.html", session, stats=found,
                           kappa=review_stats.format_kappa, rate=review_stats.format_rate,
                           config_idle=request.app.state.config.review.idle_minutes)


def describe(decision: dict) -> str:
    """A decision as the adjudicating admin reads it: its action, and for an edit the values it sets."""
    return decision_label(decision["action"], decision["new_value"])
