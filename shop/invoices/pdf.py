"""An invoice or credit note as a PDF (fpdf2: pure Python, no system libraries; README,
"Dependencies"), from its snapshot alone, so the same document gives the same PDF.

Making one takes some 100-400 ms on a shared 2-core machine, most of it fontTools reading
the font (a copy of a loaded font cannot be shared between documents: fpdf2 subsets it in
place), and it is made in the transaction that marks an order paid.

Text is set in DejaVu Sans when the system has it (Debian's fonts-dejavu-core: every
script a name or address may be written in, and the euro sign); without it, in the PDF's
built-in Helvetica, which holds Latin-1 only: other letters show as "?".
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from fpdf import FPDF

from shop.extensions import get_settings
from shop.models import Invoice
from shop.money import format_money
from shop.pricing import format_rate

FONT_PATHS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
)


class _Document(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4")
        self.set_auto_page_break(True, margin=15)
        font = next((path for path in FONT_PATHS if path.is_file()), None)
        self.unicode = font is not None
        if font is not None:
            self.add_font("Shop", fname=str(font))
            self.family = "Shop"
        else:
            self.family = "Helvetica"
        self.add_page()

    def text_line(self, text: str, size: float = 10, height: float = 5, align: str = "L") -> None:
        self.set_font(self.family, size=size)
        self.cell(0, height, self.fit(text), new_x="LMARGIN", new_y="NEXT", align=align)

    def row(self, cells: list[tuple[str, float, str]], size: float = 9) -> None:
        self.set_font(self.family, size=size)
        for text, width, align in cells:
            self.cell(width, 6, self.fit(text), border="B", align=align)
        self.ln()

    def fit(self, text: str) -> str:
        if self.unicode:
            return text
        return text.replace("€", "EUR ").encode("latin-1", "replace").decode("latin-1")


def render_pdf(document: Invoice) -> bytes:
    """The PDF of `document`: the shop, the customer, the lines, tax per rate, totals and
    payment, as its snapshot says."""
    data: dict[str, Any] = document.data
    locale = get_settings().locale
    money = lambda cents: format_money(cents, data["currency"], locale)  # noqa: E731
    pdf = _Document()
    pdf.set_creation_date(document.issued_at.replace(tzinfo=UTC))  # the same document, the same bytes
    shop = data["shop"]
    pdf.text_line(shop["name"], size=16, height=8)
    for line in shop["address"]:
        pdf.text_line(line)
    if shop["vat_id"]:
        pdf.text_line(_("VAT number: %(id)s", id=shop["vat_id"]))
    pdf.ln(6)
    for line in [data["customer"]["name"], *data["customer"]["address"], data["customer"]["email"]]:
        pdf.text_line(line)
    pdf.ln(6)
    title = (
        _("Credit note %(number)s", number=data["number"])
        if document.is_credit_note
        else _("Invoice %(number)s", number=data["number"])
    )
    pdf.text_line(title, size=14, height=8)
    pdf.text_line(_("Date: %(date)s", date=document.issued_at.strftime("%Y-%m-%d")))
    pdf.text_line(_("Order: %(number)s", number=data["order"]["number"]))
    if document.is_credit_note:
        pdf.text_line(_("Credits invoice %(number)s", number=data["credits"]))
        if data["reason"]:
            pdf.text_line(_("Reason: %(reason)s", reason=data["reason"]))
    pdf.ln(4)
    if data["lines"]:
        pdf.row(
            [
                (_("Item"), 80, "L"),
                (_("Qty"), 15, "R"),
                (_("Price"), 30, "R"),
                (_("Rate"), 20, "R"),
                (_("Amount"), 35, "R"),
            ]
        )
        for line in data["lines"]:
            pdf.row(
                [
                    (f"{line['name']} ({line['sku']})"[:60], 80, "L"),
                    (str(line["quantity"]), 15, "R"),
                    (money(line["unit_price_cents"]), 30, "R"),
                    (format_rate(line["tax_rate_bp"]), 20, "R"),
                    (money(line["total_cents"]), 35, "R"),
                ]
            )
        if data["discount_cents"]:
            pdf.row([(_("Voucher"), 145, "L"), ("-" + money(data["discount_cents"]), 35, "R")])
        pdf.row([(_("Shipping"), 145, "L"), (money(data["shipping_cents"]), 35, "R")])
    pdf.ln(2)
    pdf.row([(_("Tax rate"), 45, "L"), (_("Net"), 45, "R"), (data["tax_name"], 45, "R"), (_("Gross"), 45, "R")])
    for line in data["tax_lines"]:
        pdf.row(
            [
                (format_rate(line["rate_bp"]), 45, "L"),
                (money(line["net_cents"]), 45, "R"),
                (money(line["tax_cents"]), 45, "R"),
                (money(line["gross_cents"]), 45, "R"),
            ]
        )
    pdf.ln(2)
    label = _("Total credited") if document.is_credit_note else _("Total")
    pdf.text_line(f"{label}: {money(data['total_cents'])}", size=12, height=7, align="R")
    payment = data["payment"]
    if payment["method"]:
        paid = _("Paid by %(method)s on %(date)s", method=payment["method"], date=payment["paid_at"][:10])
        pdf.text_line(paid if not document.is_credit_note else payment["method"])
    return bytes(pdf.output())
