"""Absolute links for emails, which are read far away from the request that wrote them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for

from shop.extensions import get_settings

# Where `make run` serves the shop: links written by a command (cancel-unpaid) on a laptop.
DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"


def absolute_url_for(endpoint: str, **values: Any) -> str:
    """The page's full URL: under SHOP_BASE_URL when set (set it in production), else under
    the host the current request came to, or, in a command, under DEVELOPMENT_BASE_URL."""
    base = get_settings().base_url
    if has_request_context():
        if base:
            return base + url_for(endpoint, **values)
        return url_for(endpoint, _external=True, **values)
    parts = urlsplit(base or DEVELOPMENT_BASE_URL)
    adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
    return adapter.build(endpoint, values, force_external=True)
