"""hardening: session tokens that a credential change replaces, confirmed addresses,
optimistic versions of products, and a case-folded search text

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 08:00:00

"""

import secrets
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    _upgrade_accounts()
    _upgrade_products()


def downgrade():
    _downgrade_products()
    _downgrade_accounts()


# ---------------------------------------------------------------- accounts
def _upgrade_accounts():
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(sa.Column("session_token", sa.String(length=32), nullable=False, server_default=""))
        batch.add_column(sa.Column("email_confirmed_at", sa.DateTime(), nullable=True))
    # Every account gets its own token (a shared one would let one account's cookie
    # name another's); sessions signed before this migration end, once.
    users = sa.table("user_account", sa.column("id"), sa.column("session_token"))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.select(users.c.id)).all():
        connection.execute(users.update().where(users.c.id == user_id).values(session_token=secrets.token_hex(16)))


def _downgrade_accounts():
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("email_confirmed_at")
        batch.drop_column("session_token")


# ---------------------------------------------------------------- products
def _search_text(sku, name, description, category):
    """A frozen copy of shop.catalog.search.search_text as it was when this migration was
    written (a migration must do the same thing whenever it runs): NFKC, then case-folded."""
    return unicodedata.normalize("NFKC", "\n".join((sku, name, description or "", category or ""))).casefold()


def _upgrade_products():
    with op.batch_alter_table("product") as batch:
        batch.add_column(sa.Column("version_id", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    # The products already there become searchable: their search text, written the way the
    # shop writes it for every product it saves from now on.
    products = sa.table(
        "product",
        sa.column("id"),
        sa.column("sku"),
        sa.column("name"),
        sa.column("description"),
        sa.column("category_id"),
        sa.column("search_text"),
    )
    categories = sa.table("category", sa.column("id"), sa.column("name"))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(products.c.id, products.c.sku, products.c.name, products.c.description, categories.c.name)
        .select_from(products.outerjoin(categories, products.c.category_id == categories.c.id))
        .order_by(products.c.id)
    ).all()
    if rows:
        connection.execute(
            products.update().where(products.c.id == sa.bindparam("product_id")).values(
                search_text=sa.bindparam("text")
            ),
            [{"product_id": row[0], "text": _search_text(*row[1:])} for row in rows],
        )


def _downgrade_products():
    with op.batch_alter_table("product") as batch:
        batch.drop_column("search_text")
        batch.drop_column("version_id")
