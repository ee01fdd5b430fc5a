"""The shop's tables, as typed SQLAlchemy 2.0 models.

Money is stored as whole cents (int). Times are naive UTC, set by `utcnow` when a row is
written (never a value computed once at import).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import ClassVar

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from shop.extensions import db


def utcnow() -> datetime:
    """Now, as naive UTC: SQLite keeps no time zone, so every stored time is UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    is_admin: Mapped[bool] = mapped_column(default=False)
    # Named in every session and remember cookie (get_id); replaced when the password or
    # the email changes, so every cookie issued before that is refused, on every process.
    session_token: Mapped[str] = mapped_column(sa.String(32), default=lambda: secrets.token_hex(16))
    # None: nobody has yet shown they read this mailbox (a link sent to it was opened).
    email_confirmed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    orders: Mapped[list[Order]] = relationship(back_populates="user", order_by="Order.id.desc()")

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)  # werkzeug's default: scrypt

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and in the remember cookie: "<id>:<session
        token>". load_user (shop/__init__.py) refuses it once the token was replaced."""
        return f"{self.id}:{self.session_token}"

    def replace_session_token(self) -> None:
        """Refuse every session and remember cookie issued so far, on every process (they
        name the old token). Called, in the change's transaction, by every credential change."""
        self.session_token = secrets.token_hex(16)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class Category(db.Model):
    __tablename__ = "category"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)

    products: Mapped[list[Product]] = relationship(back_populates="category")


class Product(db.Model):
    __tablename__ = "product"
    __table_args__ = (
        sa.CheckConstraint("stock >= 0", name="stock_not_negative"),
        sa.CheckConstraint("price_cents >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    price_cents: Mapped[int]
    stock: Mapped[int] = mapped_column(default=0)
    category_id: Mapped[int | None] = mapped_column(sa.ForeignKey("category.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    # The owner is emailed when a sale takes stock from above this to at or below it;
    # None: SHOP_LOW_STOCK_THRESHOLD.
    low_stock_threshold: Mapped[int | None]
    # Counts every change (SQLAlchemy's optimistic versioning): a form saved over a
    # version that changed meanwhile is refused instead of undoing the other change.
    version_id: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    category: Mapped[Category | None] = relationship(back_populates="products")
    images: Mapped[list[ProductImage]] = relationship(
        back_populates="product", order_by="[ProductImage.position, ProductImage.id]", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012

    def __repr__(self) -> str:
        return f"<Product {self.id} {self.sku}>"


class OrderStatus:
    AWAITING_PAYMENT = "awaiting_payment"  # new orders paid offline, until the owner sees the money
    PLACED = "placed"  # orders from before payment methods (and, later, ones a card provider paid)
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"  # or collected, for a pickup
    CANCELLED = "cancelled"

    ALL = (AWAITING_PAYMENT, PLACED, PAID, SHIPPED, DELIVERED, CANCELLED)
    # The moves an owner can make; cancelling puts the stock back. Order.next_statuses()
    # narrows them by shipping and payment method.
    NEXT: ClassVar[dict[str, tuple[str, ...]]] = {
        AWAITING_PAYMENT: (PAID, SHIPPED, DELIVERED, CANCELLED),
        PLACED: (PAID, CANCELLED),
        PAID: (SHIPPED, DELIVERED, CANCELLED),
        SHIPPED: (DELIVERED,),
        DELIVERED: (),
        CANCELLED: (),
    }
    LABELS: ClassVar[dict[str, str]] = {AWAITING_PAYMENT: "Awaiting payment"}

    @classmethod
    def label(cls, status: str) -> str:
        return cls.LABELS.get(status, status.capitalize())


class Order(db.Model):
    __tablename__ = "customer_order"
    __table_args__ = (sa.Index("ix_customer_order_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    # None: a guest's order, reached through the signed link in its email (which keeps
    # working) and shown in My Orders once the account with `email` claims it.
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    email: Mapped[str] = mapped_column(sa.String(254), index=True)  # where its emails go
    status: Mapped[str] = mapped_column(sa.String(20), default=OrderStatus.AWAITING_PAYMENT)
    payment_method: Mapped[str] = mapped_column(sa.String(30), default="")  # "" before payment methods
    shipping_method: Mapped[str] = mapped_column(sa.String(30), default="standard")
    full_name: Mapped[str] = mapped_column(sa.String(120))
    address: Mapped[str] = mapped_column(sa.String(200))
    city: Mapped[str] = mapped_column(sa.String(100))
    postal_code: Mapped[str] = mapped_column(sa.String(20))
    country: Mapped[str] = mapped_column(sa.String(80))
    # The figures as they were computed at checkout (shop/checkout/pricing.py):
    # total = subtotal - discount + shipping (+ tax when prices exclude it).
    subtotal_cents: Mapped[int] = mapped_column(default=0)
    discount_cents: Mapped[int] = mapped_column(default=0)
    shipping_cents: Mapped[int] = mapped_column(default=0)
    tax_cents: Mapped[int] = mapped_column(default=0)
    tax_rate_bp: Mapped[int] = mapped_column(default=0)  # 2000 = 20 %
    prices_include_tax: Mapped[bool] = mapped_column(default=True)
    total_cents: Mapped[int]
    voucher_id: Mapped[int | None] = mapped_column(sa.ForeignKey("voucher.id"), index=True)
    voucher_code: Mapped[str] = mapped_column(sa.String(40), default="")
    paid_at: Mapped[datetime | None]
    # The hidden token of the checkout form: the same form posted twice makes one order.
    checkout_token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User | None] = relationship(back_populates="orders")
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    status_changes: Mapped[list[OrderStatusChange]] = relationship(
        back_populates="order", order_by="OrderStatusChange.id", cascade="all, delete-orphan"
    )

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def status_label(self) -> str:
        return OrderStatus.label(self.status)

    @property
    def is_pickup(self) -> bool:
        return self.shipping_method == "pickup"

    def next_statuses(self) -> tuple[str, ...]:
        """Where the owner may move this order: only a pickup is handed over without
        shipping, and only cash on delivery ships (and is delivered) before it is paid."""
        allowed = []
        for status in OrderStatus.NEXT.get(self.status, ()):
            if status == OrderStatus.SHIPPED and self.is_pickup:
                continue
            if status == OrderStatus.DELIVERED and self.status != OrderStatus.SHIPPED and not self.is_pickup:
                continue
            handed_over = status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED)
            paid_on_handover = self.payment_method in ("cash_on_delivery", "pay_at_pickup")
            if self.status == OrderStatus.AWAITING_PAYMENT and handed_over and not paid_on_handover:
                continue
            allowed.append(status)
        return tuple(allowed)

    def __repr__(self) -> str:
        return f"<Order {self.id} {self.number}>"


class OrderLine(db.Model):
    """One product of an order, with its name and price as they were when it was bought."""

    __tablename__ = "order_line"
    __table_args__ = (sa.CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("customer_order.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    sku: Mapped[str] = mapped_column(sa.String(64))
    unit_price_cents: Mapped[int]
    quantity: Mapped[int]

    order: Mapped[Order] = relationship(back_populates="lines")

    @property
    def subtotal_cents(self) -> int:
        return self.unit_price_cents * self.quantity


class OrderStatusChange(db.Model):
    """Who moved an order from one status to another, when, and why (shown on the order)."""

    __tablename__ = "order_status_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("customer_order.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str] = mapped_column(sa.String(20))
    to_status: Mapped[str] = mapped_column(sa.String(20))
    changed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    order: Mapped[Order] = relationship(back_populates="status_changes")
    changed_by: Mapped[User | None] = relationship()


class Voucher(db.Model):
    """A discount code: a percentage or a fixed amount off the goods, with a minimum basket,
    validity dates and a limited number of uses, counted atomically with each order."""

    __tablename__ = "voucher"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('percent', 'fixed')", name="kind_known"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("times_used >= 0", name="times_used_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)  # kept upper case
    kind: Mapped[str] = mapped_column(sa.String(10))  # "percent" or "fixed"
    # percent: hundredths of a percent (1000 = 10 %); fixed: cents.
    amount: Mapped[int]
    min_basket_cents: Mapped[int] = mapped_column(default=0)
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    usage_limit: Mapped[int | None]  # None: unlimited
    times_used: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Voucher {self.id} {self.code}>"


class EmailStatus:
    PENDING = "pending"  # waiting for its first or next attempt (next_attempt_at)
    SENDING = "sending"  # claimed by a sender until lease_expires_at
    SENT = "sent"  # the SMTP server accepted it
    FAILED = "failed"  # will not be tried again unless someone retries it

    ALL = (PENDING, SENDING, SENT, FAILED)


class OutboxEmail(db.Model):
    """An email to send, written in the same transaction as the change it reports.

    The row is the job: a process that dies before sending leaves it here for the next one.
    See docs/email-delivery.md for the states and guarantees.
    """

    __tablename__ = "outbox_email"
    __table_args__ = (sa.Index("ix_outbox_email_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # e.g. "order_confirmation:42": a second enqueue of the same email is a no-op.
    key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(255))
    text_body: Mapped[str] = mapped_column(sa.Text)
    html_body: Mapped[str] = mapped_column(sa.Text, default="")
    # Made once for the row and sent on every attempt, so a duplicate can be recognised.
    message_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    status: Mapped[str] = mapped_column(sa.String(10), default=EmailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    last_smtp_code: Mapped[int | None]
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(sa.String(32))
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<OutboxEmail {self.id} {self.key} {self.status}>"


class ProductImage(db.Model):
    """A photo of a product, in the order shown (position), with its alt text. Its files
    (sizes and formats) are named by `key`: shop/catalog/images.py."""

    __tablename__ = "product_image"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    alt_text: Mapped[str] = mapped_column(sa.String(250), default="")
    key: Mapped[str] = mapped_column(sa.String(32), index=True)
    width: Mapped[int]  # of the largest file
    height: Mapped[int]
    fallback: Mapped[str] = mapped_column(sa.String(4), default="jpg")  # "jpg" or "png" (transparency)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    product: Mapped[Product] = relationship(back_populates="images")


class Address(db.Model):
    """A shopper's saved address (the address book); at most one is the default, which
    checkout fills in."""

    __tablename__ = "address"
    __table_args__ = (
        sa.Index(
            "uq_address_one_default",
            "user_id",
            unique=True,
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    full_name: Mapped[str] = mapped_column(sa.String(120))
    address: Mapped[str] = mapped_column(sa.String(200))
    city: Mapped[str] = mapped_column(sa.String(100))
    postal_code: Mapped[str] = mapped_column(sa.String(20))
    country: Mapped[str] = mapped_column(sa.String(80))
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
