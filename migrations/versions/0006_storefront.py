"""storefront: several photos per product (re-encoded), a search index (FTS5 on SQLite,
tsvector on PostgreSQL) in place of product.search_text, and saved addresses

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 09:00:00

"""

import logging
import shutil
import unicodedata
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from flask import current_app

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

products = sa.table(
    "product",
    sa.column("id"),
    sa.column("sku"),
    sa.column("name"),
    sa.column("description"),
    sa.column("category_id"),
    sa.column("image"),
    sa.column("search_text"),
)
categories = sa.table("category", sa.column("id"), sa.column("name"))
images = sa.table(
    "product_image",
    sa.column("id"),
    sa.column("product_id"),
    sa.column("position"),
    sa.column("alt_text"),
    sa.column("key"),
    sa.column("width"),
    sa.column("height"),
    sa.column("fallback"),
    sa.column("created_at"),
)


def upgrade():
    op.create_table(
        "product_image",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("alt_text", sa.String(length=250), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("fallback", sa.String(length=4), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name=op.f("fk_product_image_product_id_product"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_image")),
    )
    with op.batch_alter_table("product_image") as batch:
        batch.create_index(batch.f("ix_product_image_product_id"), ["product_id"], unique=False)
        batch.create_index(batch.f("ix_product_image_key"), ["key"], unique=False)
    op.create_table(
        "address",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("full_name", sa.String(length=120), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("postal_code", sa.String(length=20), nullable=False),
        sa.Column("country", sa.String(length=80), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_address_user_id_user_account"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address")),
    )
    with op.batch_alter_table("address") as batch:
        batch.create_index(batch.f("ix_address_user_id"), ["user_id"], unique=False)
        batch.create_index(
            "uq_address_one_default",
            ["user_id"],
            unique=True,
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )
    _move_images_to_their_table()
    with op.batch_alter_table("product") as batch:
        batch.drop_column("image")
        batch.drop_column("search_text")
    _create_search_index()


def downgrade():
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.drop_table("product_search")
    else:
        op.execute("DROP TABLE product_fts")
    with op.batch_alter_table("product") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("image", sa.String(length=255), nullable=True))
    _fill_search_text_as_0004_did()
    _put_first_images_back()
    with op.batch_alter_table("address") as batch:
        batch.drop_index("uq_address_one_default")
        batch.drop_index(batch.f("ix_address_user_id"))
    op.drop_table("address")
    with op.batch_alter_table("product_image") as batch:
        batch.drop_index(batch.f("ix_product_image_key"))
        batch.drop_index(batch.f("ix_product_image_product_id"))
    op.drop_table("product_image")


# ---------------------------------------------------------------- images
def _image_folder() -> Path:
    return Path(current_app.instance_path) / "uploads" / "products"


def _move_images_to_their_table():
    """Each product's one image becomes its first photo, decoded and re-encoded like every
    new upload (shop.catalog.images: its files are named by PIPELINE, so running this with a
    later pipeline makes files of other names, never wrong ones). A file that is missing or
    that the pipeline refuses is left out, with a warning. The originals stay where they
    were (not served any more: they may hold EXIF); delete them when the shop looks right."""
    from shop.catalog.images import ImageRefused, process_image  # the shop's own code, see above
    from shop.files import private_folder, write_private_file
    from shop.models import utcnow

    connection = op.get_bind()
    rows = connection.execute(
        sa.select(products.c.id, products.c.name, products.c.image)
        .where(products.c.image.is_not(None), products.c.image != "")
        .order_by(products.c.id)
    ).all()
    folder = _image_folder()
    for product_id, name, image in rows:
        try:
            data = (folder / Path(image).name).read_bytes()
            processed, files = process_image(data)
        except (OSError, ImageRefused) as error:
            log.warning("product %s: its image %s is left out (%s)", product_id, image, error)
            continue
        private_folder(folder)
        for file_name, content in files.items():
            if not (folder / file_name).exists():
                write_private_file(folder / file_name, content)
        connection.execute(
            images.insert().values(
                product_id=product_id,
                position=0,
                alt_text=name[:250],
                key=processed.key,
                width=processed.width,
                height=processed.height,
                fallback=processed.fallback,
                created_at=utcnow(),
            )
        )


def _put_first_images_back():
    """Downgrade: each product's first photo becomes its one image again, as a copy of its
    largest fallback file under the old naming (<32 hex>.<type>, which 0004's code serves)."""
    connection = op.get_bind()
    rows, seen = [], set()
    for row in connection.execute(
        sa.select(images.c.product_id, images.c.key, images.c.width, images.c.fallback).order_by(
            images.c.product_id, images.c.position, images.c.id
        )
    ):
        if row[0] not in seen:
            seen.add(row[0])
            rows.append(row)
    folder = _image_folder()
    for product_id, key, width, fallback in rows:
        source, target = folder / f"{key}-{width}.{fallback}", folder / f"{key}.{fallback}"
        if not source.exists():
            log.warning("product %s: %s is missing; the product has no image after the downgrade", product_id, source)
            continue
        if not target.exists():
            shutil.copyfile(source, target)
        connection.execute(products.update().where(products.c.id == product_id).values(image=target.name))


# ---------------------------------------------------------------- search
_ACCENTS = set(range(0x300, 0x370)) | set(range(0x1AB0, 0x1B00)) | set(range(0x1DC0, 0x1E00))
_ACCENTS |= set(range(0x20D0, 0x2100)) | set(range(0xFE20, 0xFE30))


def _terms(text):
    """A frozen copy of shop.catalog.search.terms as this migration was written (a
    migration does the same whenever it runs): NFKC, casefold, NFKD, the generic accents of
    Latin and Greek letters removed, NFC, then runs of letters, marks and digits."""
    kept, strip = [], False
    for c in unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text or "").casefold()):
        if ord(c) in _ACCENTS:
            if strip:
                continue
        else:
            strip = ord(c) < 0x400 or 0x1E00 <= ord(c) < 0x2000
        kept.append(c)
    folded = unicodedata.normalize("NFC", "".join(kept))
    return " ".join("".join(c if unicodedata.category(c)[0] in "LMN" else " " for c in folded).split())


def _create_search_index():
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.create_table(
            "product_search",
            sa.Column("product_id", sa.Integer(), sa.ForeignKey("product.id", ondelete="CASCADE"), primary_key=True),
            sa.Column("document", sa.dialects.postgresql.TSVECTOR(), nullable=False),
        )
        op.create_index("ix_product_search_document", "product_search", ["document"], postgresql_using="gin")
        insert = (
            "INSERT INTO product_search (product_id, document) VALUES (:product_id,"
            " setweight(to_tsvector('simple', :name), 'A') || setweight(to_tsvector('simple', :sku), 'B')"
            " || setweight(to_tsvector('simple', :category), 'C') || setweight(to_tsvector('simple', :description), 'D'))"
        )
    else:
        op.execute(
            "CREATE VIRTUAL TABLE product_fts USING fts5("
            "name, sku, category, description, tokenize = 'unicode61 remove_diacritics 2')"
        )
        insert = (
            "INSERT INTO product_fts (rowid, name, sku, category, description)"
            " VALUES (:product_id, :name, :sku, :category, :description)"
        )
    rows = connection.execute(
        sa.select(products.c.id, products.c.sku, products.c.name, products.c.description, categories.c.name)
        .select_from(products.outerjoin(categories, products.c.category_id == categories.c.id))
        .order_by(products.c.id)
    ).all()
    entries = [
        {"product_id": row[0], "sku": _terms(row[1]), "name": _terms(row[2]), "description": _terms(row[3])}
        | {"category": _terms(row[4])}
        for row in rows
    ]
    if entries:
        connection.execute(sa.text(insert), entries)


def _fill_search_text_as_0004_did():
    """Downgrade: product.search_text as 0004's frozen function writes it."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(products.c.id, products.c.sku, products.c.name, products.c.description, categories.c.name)
        .select_from(products.outerjoin(categories, products.c.category_id == categories.c.id))
        .order_by(products.c.id)
    ).all()
    if rows:
        connection.execute(
            products.update()
            .where(products.c.id == sa.bindparam("product_id"))
            .values(search_text=sa.bindparam("text")),
            [
                {
                    "product_id": row[0],
                    "text": unicodedata.normalize("NFKC", "\n".join((row[1], row[2], row[3] or "", row[4] or ""))).casefold(),
                }
                for row in rows
            ],
        )
