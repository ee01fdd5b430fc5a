"""The shop's tables, as typed SQLAlchemy 2.0 models.

Money is stored as whole cents (int). Times are naive UTC, set by `utcnow` when a row is
written (never a value computed once at import).
"""

from shop.models.accounts import Address, User
from shop.models.base import utcnow
from shop.models.catalog import Category, Product, ProductImage
from shop.models.invoices import DocumentKind, Invoice, InvoiceCounter
from shop.models.orders import Order, OrderLine, OrderStatus, OrderStatusChange
from shop.models.outbox import EmailStatus, MailServerState, OutboxEmail
from shop.models.refunds import Refund, RefundStatus
from shop.models.returns import Return, ReturnLine
from shop.models.tax import OrderTaxLine, TaxRate
from shop.models.vouchers import Voucher

__all__ = [
    "Address",
    "Category",
    "DocumentKind",
    "EmailStatus",
    "Invoice",
    "InvoiceCounter",
    "MailServerState",
    "Order",
    "OrderLine",
    "OrderStatus",
    "OrderStatusChange",
    "OrderTaxLine",
    "OutboxEmail",
    "Product",
    "ProductImage",
    "Refund",
    "RefundStatus",
    "Return",
    "ReturnLine",
    "TaxRate",
    "User",
    "Voucher",
    "utcnow",
]
