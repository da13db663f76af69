"""GET /runs/<audit_id>: a stored run report."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from app.adapters.sql.run_reports import SqlRunReports
from app.api.access import requires
from app.api.context import services
from app.api.errors import ApiError
from app.core.identity import Role
from app.core.validation import FieldError

bp = Blueprint("runs", __name__)


@bp.get("/runs/<audit_id>")
@requires(Role.OPERATOR)
def get_run(audit_id: str) -> ResponseReturnValue:
    """The report of one execution."""
    if not SqlRunReports.well_formed(audit_id):
        raise ApiError(
            400,
            "invalid_request",
            "audit_id must look like run_YYYYMMDDTHHMMSSZ_<12 hex>",
            [FieldError("audit_id", "malformed audit id")],
        )
    report = services().reports.get(audit_id)
    if report is None:
        raise ApiError(404, "not_found", f"no run {audit_id}")
    return jsonify(report)
