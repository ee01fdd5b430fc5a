"""The shop's tables, as typed SQLAlchemy 2.0 models.

Money is stored as whole minor units of SHOP_CURRENCY (int; the columns are named *_cents
from when every currency had cents: yen for JPY, fils for BHD). Times are naive UTC, set
by `utcnow` when a row is written (never a value computed once at import). Countries are
ISO 3166-1 alpha-2 codes (shop/countries.py), or free text kept from before 0010.
"""

from shop.models.accounts import Address, Role, User
from shop.models.audit import AuditEntry
from shop.models.base import utcnow
from shop.models.catalog import Category, Product, ProductImage
from shop.models.invoices import DocumentKind, Invoice, InvoiceCounter
from shop.models.orders import Order, OrderLine, OrderStatus, OrderStatusChange
from shop.models.outbox import EmailStatus, MailServerState, OutboxEmail
from shop.models.payments import PaymentEvent
from shop.models.refunds import Refund, RefundStatus
from shop.models.returns import Return, ReturnLine
from shop.models.shipping import ShippingZone, ShippingZoneCountry
from shop.models.tax import OrderTaxLine, TaxRate
from shop.models.variants import ProductVariant
from shop.models.vouchers import Voucher

__all__ = [
    "Address",
    "AuditEntry",
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
    "PaymentEvent",
    "Product",
    "ProductImage",
    "ProductVariant",
    "Refund",
    "RefundStatus",
    "Return",
    "ReturnLine",
    "Role",
    "ShippingZone",
    "ShippingZoneCountry",
    "TaxRate",
    "User",
    "Voucher",
    "utcnow",
]
