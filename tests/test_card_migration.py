"""Migration 0008 (card payments) up, down and up again on a shop with orders, on SQLite and
(TEST_DATABASE_URL) PostgreSQL: the orders stay, with their session ids while 0008 stands."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from shop.extensions import db
from tests.conftest import rows

FILLERS = {sa.String: "x", sa.Integer: 0, sa.Boolean: False, sa.DateTime: datetime(2026, 11, 30, 12, 0)}


def an_order(connection, number: str) -> None:
    """An order row with every column 0007 requires filled in."""
    table = sa.Table("customer_order", sa.MetaData(), autoload_with=connection)
    values = {}
    for column in table.columns:
        if column.name == "id" or column.nullable:
            continue
        values[column.name] = next(v for kind, v in FILLERS.items() if isinstance(column.type, kind))
    values.update(number=number, checkout_token=number, total_cents=2990)
    connection.execute(table.insert().values(**values))


def test_0008_adds_the_session_and_the_events_and_goes_back_down_keeping_the_orders(fresh):
    with fresh.app_context():
        upgrade(revision="0007")
        with db.engine.begin() as c:
            an_order(c, "261130-AAAAAA")
        upgrade(revision="0008")
        with db.engine.begin() as c:
            c.execute(sa.text("UPDATE customer_order SET payment_session_id = 'cs_test_1', payment_intent_id = 'pi_1'"))
            c.execute(
                sa.text(
                    "INSERT INTO payment_event (event_id, type, order_id, received_at) "
                    "SELECT 'evt_1', 'checkout.session.completed', id, CURRENT_TIMESTAMP FROM customer_order"
                )
            )
            an_order(c, "261130-BBBBBB")
        assert rows("SELECT number, payment_session_id FROM customer_order ORDER BY number") == [
            ("261130-AAAAAA", "cs_test_1"),
            ("261130-BBBBBB", None),
        ]
        downgrade(revision="0007")
        assert rows("SELECT number, total_cents FROM customer_order ORDER BY number") == [
            ("261130-AAAAAA", 2990),
            ("261130-BBBBBB", 2990),
        ]
        assert "payment_event" not in sa.inspect(db.engine).get_table_names()
        upgrade(revision="0008")
        assert rows("SELECT count(*) FROM customer_order WHERE payment_session_id IS NULL") == [(2,)]
