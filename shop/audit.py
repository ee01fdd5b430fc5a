"""The audit trail (issue 19): every change the owner or a staff member makes to products
(price, stock, on sale) and their variants, vouchers, shipping zones, order statuses,
refunds, email resends and erasures is recorded with who, when, and the values before and
after.

The services record it, in the same transaction as the change (`record_change`), so the
trail cannot miss a change that was made nor show one that was rolled back. Services know
no current_user: the views pass the acting user in (`by`), None for the shop itself (a
command, a customer's own request).

To record a new kind of change, call, inside the service's transaction:

    record_change(by, "tax_rate.changed", "tax_rate", rate.id, before, after)

with `before`/`after` from `changes()` (only what differs) or `snapshot()`. The admin shows
an object's trail with `trail_of(object_type, object_id)` (on its page) and every entry,
newest first, at /admin/audit.
"""

from __future__ import annotations

from typing import Any, Protocol

import sqlalchemy as sa

from shop.extensions import db
from shop.models import AuditEntry


class Actor(Protocol):
    """Who made a change: a User (or flask_login's current_user standing for one)."""

    id: int
    email: str


class NotInTransaction(RuntimeError):
    """record_change was called outside a transaction: the entry would not be committed
    with the change it records."""


def record_change(
    by: Actor | None,
    action: str,
    object_type: str,
    object_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the caller's transaction (shop.database.transaction()) and return it.

    `by`: the owner or staff member acting, None for the shop itself. `action`: what
    happened, "<object type>.<verb>" ("product.changed", "order.status"); `object_type` and
    `object_id`: what it happened to (object_id None when there is no row, e.g. an erased
    guest). `before`/`after`: JSON-serialisable dicts of the values (ints, strings, bools,
    None), None for "did not exist" / "no longer exists". Never put a customer's personal
    data here: the trail outlives erasures. Raises NotInTransaction.
    """
    if not db.session().in_transaction():
        raise NotInTransaction(action)
    entry = AuditEntry(
        actor_id=by.id if by is not None else None,
        actor_email=by.email if by is not None else "",
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
    )
    db.session.add(entry)
    return entry


def snapshot(obj: object, fields: tuple[str, ...]) -> dict[str, Any]:
    """{field: value} of `obj`'s attributes named in `fields`."""
    return {name: getattr(obj, name) for name in fields}


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The keys whose values differ, as (before, after); both empty when nothing changed."""
    changed = [key for key in after if before.get(key) != after[key]]
    return {key: before.get(key) for key in changed}, {key: after[key] for key in changed}


def trail_of(object_type: str, object_id: int) -> list[AuditEntry]:
    """Every entry about one object, oldest first."""
    statement = (
        sa.select(AuditEntry)
        .where(AuditEntry.object_type == object_type, AuditEntry.object_id == object_id)
        .order_by(AuditEntry.id)
    )
    return list(db.session.execute(statement).scalars())


def audit_entries(object_type: str = "", object_id: int | None = None, actor: str = "") -> sa.Select:
    """The whole trail, newest first: about objects of `object_type` (empty: any), the one
    with `object_id` (None: any), by an actor whose email contains `actor` (any case, taken
    literally; empty: anyone)."""
    statement = sa.select(AuditEntry).order_by(AuditEntry.id.desc())
    if object_type:
        statement = statement.where(AuditEntry.object_type == object_type)
    if object_id is not None:
        statement = statement.where(AuditEntry.object_id == object_id)
    if actor:
        statement = statement.where(AuditEntry.actor_email.icontains(actor, autoescape=True))
    return statement


def changed_values(entry: AuditEntry) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for each field an entry names, in the order recorded; a side
    that did not exist (created, deleted) gives None."""
    before, after = entry.before or {}, entry.after or {}
    fields = list(after) + [key for key in before if key not in after]
    return [(key, before.get(key), after.get(key)) for key in fields]


def object_types() -> list[str]:
    """The kinds of object the trail names, A-Z."""
    statement = sa.select(AuditEntry.object_type).distinct().order_by(AuditEntry.object_type)
    return list(db.session.execute(statement).scalars())
