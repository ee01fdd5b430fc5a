"""What a product's fields may hold: one rule for the admin form and the CSV import alike."""

from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

SKU_MAX_LENGTH = 64
NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 5000
CATEGORY_MAX_LENGTH = 80
MAX_STOCK = 1_000_000

# Letters and digits first (so a SKU never starts a spreadsheet formula or a command-line
# option), then letters, digits, dots, dashes and underscores: safe in URLs, file names
# and CSV cells without quoting.
SKU_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
SKU_RULE = _l("Letters, digits, dots, dashes and underscores, starting with a letter or digit.")


def sku_problem(sku: str, current: str | None = None) -> str | None:
    """Why `sku` (already stripped) cannot be a product's SKU, or None if it can.

    `current` is the product's SKU as stored: keeping it is always allowed, so a product
    from before this rule (an early import may have stored any text) can still be saved
    and re-imported unchanged; only a new or changed SKU must follow the rule.
    """
    if current is not None and sku == current:
        return None
    if not sku:
        return _("Enter a SKU.")
    if len(sku) > SKU_MAX_LENGTH:
        return _("At most %(max)d characters.", max=SKU_MAX_LENGTH)
    if not SKU_PATTERN.fullmatch(sku):
        return str(SKU_RULE)
    return None
