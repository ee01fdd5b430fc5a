"""Absolute links for emails, which are read far away from the request that wrote them."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for


def absolute_url_for(endpoint: str, **values: Any) -> str:
    """The page's full URL: under SHOP_BASE_URL when set (always, in production), else under
    the host the current request came to."""
    base = current_app.config["SHOP_BASE_URL"]
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)
