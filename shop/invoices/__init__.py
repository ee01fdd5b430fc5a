"""Invoices and credit notes: numbers from gap-free sequences (service.py), the snapshot
each one keeps (snapshot.py), and its PDF (pdf.py). The order's life calls in here when
an order is paid, cancelled or refunded (shop/orders/invoicing.py)."""
