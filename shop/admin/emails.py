"""/admin/emails: the outbox (filtered by state, kind, recipient), one email with a safe
preview of its HTML, and sending a failed one again."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from shop.admin import PAGE_SIZE, bp
from shop.admin.access import staff_allowed
from shop.admin.forms import ActionForm
from shop.admin.service import EmailNotFound, email_kinds, emails_matching, get_email, resend_email
from shop.auth.links import hide_live_links
from shop.inputs import paginate
from shop.mail.outbox import counts_by_status
from shop.models import EmailStatus

# The outbox's states and the emails' kinds (stored as codes), as the owner reads them.
STATUS_NAMES = {
    EmailStatus.PENDING: _l("Pending"),
    EmailStatus.SENDING: _l("Sending"),
    EmailStatus.SENT: _l("Sent"),
    EmailStatus.FAILED: _l("Failed"),
}
KIND_NAMES = {
    "order_confirmation": _l("order confirmation"),
    "new_order": _l("new order"),
    "low_stock": _l("low stock"),
    "order_shipped": _l("order shipped"),
    "order_cancelled": _l("order cancelled"),
    "password_reset": _l("password reset"),
    "confirm_email": _l("confirm email"),
    "claim_orders": _l("claim orders"),
    "account_exists": _l("account exists"),
    "email_change": _l("email change"),
    "email_change_taken": _l("email change taken"),
    "email_changed": _l("email changed"),
    "delete_account": _l("delete account"),
}


@bp.app_template_filter("email_status")
def email_status_name(status: str) -> str:
    """'failed' -> 'Failed' ('Fehlgeschlagen' in German); an unknown state capitalised."""
    return str(STATUS_NAMES.get(status, status.capitalize()))


@bp.app_template_filter("email_kind")
def email_kind_name(kind: str) -> str:
    """'order_confirmation' -> 'order confirmation', in the shop's language."""
    return str(KIND_NAMES.get(kind, kind.replace("_", " ")))


@bp.get("/emails")
@staff_allowed
def emails() -> str:
    status = request.args.get("status", "")
    kind = request.args.get("kind", "")
    q = request.args.get("q", "").strip()[:254]
    page = paginate(emails_matching(status, kind, q), PAGE_SIZE)
    return render_template(
        "admin/emails.html",
        page=page,
        status=status,
        kind=kind,
        q=q,
        kinds=email_kinds(),
        statuses=EmailStatus.ALL,
        counts=counts_by_status(),
        action_form=ActionForm(),
    )


@bp.get("/emails/<id:email_id>")
@staff_allowed
def email_detail(email_id: int) -> str:
    try:
        email = get_email(email_id)
    except EmailNotFound:
        abort(404)
    # Reset, claim and confirmation links act for whoever holds them: shown without their token.
    text_body = hide_live_links(email.text_body)
    return render_template("admin/email_detail.html", email=email, text_body=text_body, action_form=ActionForm())


@bp.get("/emails/<id:email_id>/html")
@staff_allowed
def email_html(email_id: int) -> Response:
    """The email's HTML on its own, for the preview frame: sandboxed, no scripts, nothing
    fetched from elsewhere, so whatever it contains cannot act in the admin's session."""
    try:
        email = get_email(email_id)
    except EmailNotFound:
        abort(404)
    response = Response(hide_live_links(email.html_body or "<p>(no HTML part)</p>"), mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.post("/emails/<id:email_id>/resend")
@staff_allowed
def email_resend(email_id: int) -> BaseResponse:
    ActionForm().validate_on_submit()
    try:
        email, resent = resend_email(email_id, by=current_user)
    except EmailNotFound:
        abort(404)
    if resent:
        flash(_("Email to %(recipient)s queued to be sent again.", recipient=email.recipient), "success")
    else:
        flash(_("Only a failed email can be resent; this one is %(status)s.", status=email.status), "error")
    return redirect(url_for("admin.email_detail", email_id=email.id), 303)
