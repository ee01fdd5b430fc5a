"""The ways to pay without a contract with a payment provider: bank transfer, cash on
delivery, and paying at the counter when collecting."""

from __future__ import annotations

from datetime import timedelta

from config import Settings
from shop.models import Order
from shop.payment.method import PaymentMethod, amount_due
from shop.shipping import ShippingOption

# A documented example IBAN (it passes the checksum, belongs to nobody): development only.
EXAMPLE_IBAN = "GB33 BUKB 2020 1555 5555 55"


class BankTransfer(PaymentMethod):
    """The shopper transfers the total with the order number as reference; the goods go
    out once the owner sees the money. Unpaid orders are cancelled after
    SHOP_UNPAID_CANCEL_DAYS."""

    code = "bank_transfer"
    label = "Bank transfer"
    hint = "We send the goods when your payment arrives."
    needs_settings = {"SHOP_BANK_IBAN": EXAMPLE_IBAN}  # noqa: RUF012  (read only)

    def instructions(self, order: Order, settings: Settings) -> list[str]:
        lines = [
            f"Please transfer {amount_due(order, settings)} to:",
            f"Account holder: {settings.bank_account_holder or settings.shop_name}",
            f"IBAN: {settings.bank_iban}",
        ]
        if settings.bank_bic:
            lines.append(f"BIC: {settings.bank_bic}")
        lines += [
            f"Reference: {self.reference(order)}",
            f"Orders not paid within {settings.unpaid_cancel_days} days are cancelled.",
        ]
        return lines

    def reference(self, order: Order) -> str:
        return order.number

    def unpaid_deadline(self, settings: Settings) -> timedelta:
        return timedelta(days=settings.unpaid_cancel_days)


class CashOnDelivery(PaymentMethod):
    """Paid to the courier: only for an order that is delivered."""

    code = "cash_on_delivery"
    label = "Cash on delivery"
    hint = "Pay the courier in cash when the parcel arrives."
    paid_on_handover = True
    fit_rule = "cash on delivery needs standard shipping"

    def fits(self, option: ShippingOption) -> bool:
        return not option.handed_over_at_shop

    def instructions(self, order: Order, settings: Settings) -> list[str]:
        return [f"Please have {amount_due(order, settings)} in cash ready for the courier."]


class PayAtPickup(PaymentMethod):
    """Paid at the counter: only for an order collected at the shop."""

    code = "pay_at_pickup"
    label = "Pay when you collect"
    hint = "Cash or card at the counter, with pickup in store."
    paid_on_handover = True
    fit_rule = "paying at pickup needs pickup"

    def fits(self, option: ShippingOption) -> bool:
        return option.handed_over_at_shop

    def instructions(self, order: Order, settings: Settings) -> list[str]:
        return [f"Please pay {amount_due(order, settings)} when you collect your order at {settings.pickup_address}."]
