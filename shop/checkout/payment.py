"""Ways to pay without a contract with a payment provider, behind one small interface.

Checkout only asks a method whether it fits the chosen shipping, which status a new order
starts in, what to tell the shopper, and where to send them after the order is placed. A
card provider would be one more subclass: `initial_status` PLACED (or awaiting payment),
`page_after_order` its hosted payment page, and a webhook view of its own that marks the
order paid. Nothing in place_order() changes for it.
"""

from __future__ import annotations

from typing import ClassVar

from config import Settings, payment_fits_shipping
from shop.models import Order, OrderStatus
from shop.money import format_money


class PaymentMethod:
    code: ClassVar[str]
    label: ClassVar[str]  # what the shopper chooses at checkout
    hint: ClassVar[str] = ""  # one line under the choice
    initial_status: ClassVar[str] = OrderStatus.AWAITING_PAYMENT

    def fits(self, shipping_method: str) -> bool:
        return payment_fits_shipping(self.code, shipping_method)

    def instructions(self, order: Order, settings: Settings) -> list[str]:
        """Lines telling the shopper how to pay, for the order page and the emails."""
        raise NotImplementedError

    def page_after_order(self, order: Order) -> str | None:
        """Where to send the shopper once the order is placed; None: the order page."""
        return None


def _amount(order: Order, settings: Settings) -> str:
    return format_money(order.total_cents, settings.currency)


class BankTransfer(PaymentMethod):
    code = "bank_transfer"
    label = "Bank transfer"
    hint = "We send the goods when your payment arrives."

    def instructions(self, order: Order, settings: Settings) -> list[str]:
        lines = [
            f"Please transfer {_amount(order, settings)} to:",
            f"Account holder: {settings.bank_account_holder or settings.shop_name}",
            f"IBAN: {settings.bank_iban}",
        ]
        if settings.bank_bic:
            lines.append(f"BIC: {settings.bank_bic}")
        lines += [
            f"Reference: {order.number}",
            f"Orders not paid within {settings.unpaid_cancel_days} days are cancelled.",
        ]
        return lines


class CashOnDelivery(PaymentMethod):
    code = "cash_on_delivery"
    label = "Cash on delivery"
    hint = "Pay the courier in cash when the parcel arrives."

    def instructions(self, order: Order, settings: Settings) -> list[str]:
        return [f"Please have {_amount(order, settings)} in cash ready for the courier."]


class PayAtPickup(PaymentMethod):
    code = "pay_at_pickup"
    label = "Pay when you collect"
    hint = "Cash or card at the counter, with pickup in store."

    def instructions(self, order: Order, settings: Settings) -> list[str]:
        where = settings.pickup_address
        return [f"Please pay {_amount(order, settings)} when you collect your order at {where}."]


PAYMENT_METHODS: dict[str, PaymentMethod] = {m.code: m for m in (BankTransfer(), CashOnDelivery(), PayAtPickup())}


def offered_payment_methods(settings: Settings) -> list[PaymentMethod]:
    """The methods the owner switched on (SHOP_PAYMENT_METHODS), in that order."""
    return [PAYMENT_METHODS[code] for code in settings.payment_methods]


def payment_method(code: str) -> PaymentMethod | None:
    return PAYMENT_METHODS.get(code)
