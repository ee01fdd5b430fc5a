"""/admin/audit (owner only): the audit trail, newest first, filtered by the kind of object
(and one object) or by who made the change. Each object's own trail is also shown on its
page (products, orders) through templates/admin/_trail.html."""

from __future__ import annotations

from flask import render_template, request

from shop.admin import PAGE_SIZE, bp
from shop.audit import audit_entries, object_types
from shop.inputs import paginate


@bp.get("/audit")
def audit() -> str:
    object_type = request.args.get("type", "").strip()[:30]
    object_id = request.args.get("id", type=int)
    if object_id is not None and not 0 < object_id < 2**31:
        object_id = None
    actor = request.args.get("actor", "").strip()[:254]
    page = paginate(audit_entries(object_type, object_id, actor), PAGE_SIZE)
    return render_template(
        "admin/audit.html",
        page=page,
        types=object_types(),
        object_type=object_type,
        object_id=object_id,
        actor=actor,
    )
