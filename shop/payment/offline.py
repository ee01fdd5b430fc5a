"""The ways to pay without a contract with a payment provider: bank transfer, cash on
delivery, and paying at the counter when collecting."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from config import Settings
from shop.language import pickup_address
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
    label = _l("Bank transfer")
    hint = _l("We send the goods when your payment arrives.")
    needs_settings = {"SHOP_BANK_IBAN": EXAMPLE_IBAN}  # noqa: RUF012  (read only)

    def instructions(self, order: Order, settings: Settings) -> list[str]:
        lines = [
            _("Please transfer %(amount)s to:", amount=amount_due(order, settings)),
            _("Account holder: %(holder)s", holder=settings.bank_account_holder or settings.shop_name),
            _("IBAN: %(iban)s", iban=settings.bank_iban),
        ]
        if settings.bank_bic:
            lines.append(_("BIC: %(bic)s", bic=settings.bank_bic))
        lines += [
            _("Reference: %(reference)s", reference=self.reference(order)),
            ngettext(
                "Orders not paid within %(num)d day are cancelled.",
                "Orders not paid within %(num)d days are cancelled.",
                settings.unpaid_cancel_days,
            ),
        ]
        return lines

    def reference(self, order: Order) -> str:
        return order.number

    def unpaid_deadline(self, settings: Settings) -> timedelta:
        return timedelta(days=settings.unpaid_cancel_days)


class CashOnDelivery(PaymentMethod):
    """Paid to the courier: only for an order that is delivered."""

    code = "cash_on_delivery"
    label = _l("Cash on delivery")
    hint = _l("Pay the courier in cash when the parcel arrives.")
    paid_on_handover = True
    fit_rule = "cash on delivery needs standard shipping"

    def fits(self, option: ShippingOption) -> bool:
        return not option.handed_over_at_shop

    def instructions(self, order: Order, settings: Settings) -> list[str]:
        return [_("Please have %(amount)s in cash ready for the courier.", amount=amount_due(order, settings))]


class PayAtPickup(PaymentMethod):
    """Paid at the counter: only for an order collected at the shop."""

    code = "pay_at_pickup"
    label = _l("Pay when you collect")
    hint = _l("Cash or card at the counter, with pickup in store.")
    paid_on_handover = True
    fit_rule = "paying at pickup needs pickup"

    def fits(self, option: ShippingOption) -> bool:
        return option.handed_over_at_shop

    def instructions(self, order: Order, settings: Settings) -> list[str]:
        return [
            _(
                "Please pay %(amount)s when you collect your order at %(place)s.",
                amount=amount_due(order, settings),
                place=pickup_address(settings),
            )
        ]
