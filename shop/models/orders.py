"""Orders, their lines as bought, and every change of their status."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.base import utcnow

if TYPE_CHECKING:  # the relationships' other ends
    from shop.models.accounts import User
    from shop.models.tax import OrderTaxLine


class OrderStatus(enum.StrEnum):
    """Where an order is; stored as these strings. The moves between them, and what each
    means, are the order's life: shop/orders/service.py."""

    AWAITING_PAYMENT = "awaiting_payment"  # new orders, until the money came (or is due on handover)
    PLACED = "placed"  # orders from before payment methods (and, later, ones a card provider paid)
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"  # or collected, for an order handed over at the shop
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        """'Awaiting payment', 'Paid': the status as the pages show it, in the shop's language."""
        return str(STATUS_LABELS[self])

    @classmethod
    def label_of(cls, value: str) -> str:
        """The label of a stored value; one the shop does not know, capitalised."""
        return cls(value).label if value in cls._value2member_map_ else value.capitalize()


STATUS_LABELS = {
    OrderStatus.AWAITING_PAYMENT: _l("Awaiting payment"),
    OrderStatus.PLACED: _l("Placed"),
    OrderStatus.PAID: _l("Paid"),
    OrderStatus.SHIPPED: _l("Shipped"),
    OrderStatus.DELIVERED: _l("Delivered"),
    OrderStatus.CANCELLED: _l("Cancelled"),
}


class Order(db.Model):
    __tablename__ = "customer_order"
    __table_args__ = (sa.Index("ix_customer_order_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    # None: a guest's order, reached through the signed link in its email (which keeps
    # working) and shown in My Orders once the account with `email` claims it.
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    email: Mapped[str] = mapped_column(sa.String(254), index=True)  # where its emails go
    # An OrderStatus; the first one is the payment method's (shop/payment: initial_status).
    status: Mapped[str] = mapped_column(sa.String(20))
    # Codes of shop/payment's PAYMENT_METHODS and shop/shipping.py's SHIPPING_OPTIONS;
    # payment "" for orders from before payment methods.
    payment_method: Mapped[str] = mapped_column(sa.String(30), default="")
    shipping_method: Mapped[str] = mapped_column(sa.String(30))
    full_name: Mapped[str] = mapped_column(sa.String(120))
    address: Mapped[str] = mapped_column(sa.String(200))
    city: Mapped[str] = mapped_column(sa.String(100))
    postal_code: Mapped[str] = mapped_column(sa.String(20))
    country: Mapped[str] = mapped_column(sa.String(80))
    # The figures as they were computed at checkout (shop/pricing.py):
    # total = subtotal - discount + shipping (+ tax when prices exclude it).
    subtotal_cents: Mapped[int] = mapped_column(default=0)
    discount_cents: Mapped[int] = mapped_column(default=0)
    shipping_cents: Mapped[int] = mapped_column(default=0)
    tax_cents: Mapped[int] = mapped_column(default=0)
    tax_rate_bp: Mapped[int] = mapped_column(default=0)  # 2000 = 20 %; several rates: the highest
    prices_include_tax: Mapped[bool] = mapped_column(default=True)
    total_cents: Mapped[int]
    voucher_id: Mapped[int | None] = mapped_column(sa.ForeignKey("voucher.id"), index=True)
    voucher_code: Mapped[str] = mapped_column(sa.String(40), default="")
    paid_at: Mapped[datetime | None]
    # A card provider's payment (Stripe): the Checkout Session the shopper pays on (its
    # webhooks name it), and the payment it made (refunds and the dashboard link name that).
    payment_session_id: Mapped[str | None] = mapped_column(sa.String(255), index=True, unique=True)
    payment_intent_id: Mapped[str | None] = mapped_column(sa.String(255))
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
    # The tax per rate (shop/pricing.py), highest rate first.
    tax_lines: Mapped[list[OrderTaxLine]] = relationship(
        back_populates="order", order_by="OrderTaxLine.rate_bp.desc()", cascade="all, delete-orphan"
    )

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def status_label(self) -> str:
        return OrderStatus.label_of(self.status)

    def __repr__(self) -> str:
        return f"<Order {self.id} {self.number}>"


class OrderLine(db.Model):
    """One product (or variant of one) of an order, with its name, option label, SKU and
    price as they were when it was bought."""

    __tablename__ = "order_line"
    __table_args__ = (sa.CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("customer_order.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id"), index=True)
    # The variant bought (None: a product without variants); SET NULL keeps the line if
    # the variant is ever deleted: `option` and `sku` say what it was.
    variant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("product_variant.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    option: Mapped[str] = mapped_column(sa.String(100), default="")  # the variant's label as bought
    sku: Mapped[str] = mapped_column(sa.String(64))
    unit_price_cents: Mapped[int]
    quantity: Mapped[int]
    tax_rate_bp: Mapped[int] = mapped_column(default=0)  # the product's rate when it was bought

    order: Mapped[Order] = relationship(back_populates="lines")

    @property
    def title(self) -> str:
        """'Assam Tea — 250 g', or the name alone: how pages and emails name the line."""
        return f"{self.name} — {self.option}" if self.option else self.name

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
