import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from shop.extensions import db
from shop.models import OrderLine


def test_sqlite_runs_with_wal_a_busy_timeout_and_foreign_keys(app, databases):
    if databases.kind != "sqlite":
        pytest.skip("SQLite's settings: this run is on PostgreSQL")
    with app.app_context():
        pragma = lambda name: db.session.execute(sa.text(f"PRAGMA {name}")).scalar_one()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") >= 5000


def test_foreign_keys_are_enforced(app):
    with app.app_context():
        db.session.add(OrderLine(order_id=4242, product_id=4242, name="x", sku="x", unit_price_cents=1, quantity=1))
        with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
            db.session.commit()


def test_the_migrations_build_exactly_the_models(app):
    """A model changed without a migration (or the reverse) fails here, not on a shop's server."""
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
