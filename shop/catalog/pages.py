"""The product page, rendered for the catalogue and again by the cart (a refused quantity)."""

from __future__ import annotations

from flask import render_template
from flask_wtf import FlaskForm

from shop.catalog.seo import json_ld, product_description, product_structured_data
from shop.models import Product
from shop.security import CONTENT_SECURITY_POLICY


def render_product(item: Product, form: FlaskForm, status: int = 200) -> tuple[str, int, dict[str, str]]:
    """The product page (also shown again by the cart when a quantity is refused)."""
    structured = json_ld(product_structured_data(item))
    page = render_template(
        "catalog/product.html",
        product=item,
        form=form,
        description=product_description(item),
        structured_data=structured.text,
    )
    # The JSON-LD block is data, not a script a browser runs (HTML: a "data block"), but
    # some browsers have reported it as an inline script the policy refuses: its hash
    # allows exactly this text, and nothing else, for this page.
    policy = CONTENT_SECURITY_POLICY.replace("script-src 'self'", f"script-src 'self' {structured.csp_hash}")
    return page, status, {"Content-Security-Policy": policy}
