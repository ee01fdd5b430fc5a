"""staff and the audit trail: accounts get a role (owner, staff, customer) instead of the
is_admin flag, and every change made in the back office an audit entry

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 11:05:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    # Admins become owners, everyone else a customer. ADD/DROP COLUMN work in place on both
    # databases (SQLite since 3.35): the table, which orders and addresses reference, is not
    # rebuilt.
    op.add_column(
        "user_account", sa.Column("role", sa.String(length=10), nullable=False, server_default="customer")
    )
    op.execute("UPDATE user_account SET role = 'owner' WHERE is_admin")
    op.drop_column("user_account", "is_admin")
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_email", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("object_type", sa.String(length=30), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user_account.id"], name="fk_audit_entry_actor_id_user_account", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_audit_entry"),
    )
    op.create_index("ix_audit_entry_created_at", "audit_entry", ["created_at"])
    op.create_index("ix_audit_entry_object", "audit_entry", ["object_type", "object_id"])


def downgrade():
    # Owners are admins again; staff members become customers (the flag had no staff).
    op.drop_index("ix_audit_entry_object", table_name="audit_entry")
    op.drop_index("ix_audit_entry_created_at", table_name="audit_entry")
    op.drop_table("audit_entry")
    op.add_column("user_account", sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE user_account SET is_admin = (role = 'owner')")
    op.drop_column("user_account", "role")
