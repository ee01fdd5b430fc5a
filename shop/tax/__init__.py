"""Tax rates per product (rates.py) and the tax report (report.py). The arithmetic of an
order's tax per rate is shop-level: shop/pricing.py."""
