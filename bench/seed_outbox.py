"""Queue COUNT pending emails in the outbox of the shop the environment points at, through
the same enqueue_email() that checkout uses (bench/backlog.py runs it):

    DATABASE_URL=sqlite:///tmp/x/shop.db python bench/seed_outbox.py 10000

The bodies are about the size of a real order confirmation (about 0.5 KB as text and as HTML).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TEXT = """Hello Ada Lovelace,

thank you for your order at Swiftcart.

Order number: BENCH-{n:05}

1 x Bench Tea 01 at €6.90 = €6.90
Total: €6.90

Shipping to:
Ada Lovelace
12 Analytical Street
N1 9GU London
United Kingdom

See your order: http://127.0.0.1/orders/{n}

Swiftcart
"""
HTML = "<!doctype html><html><body><p>{paragraphs}</p></body></html>"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("count", type=int)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))  # shop/ and config.py live at the repository root
    from shop import create_app
    from shop.database import transaction
    from shop.mail.outbox import enqueue_email

    app = create_app()
    with app.app_context(), transaction():  # one transaction: 10,000 rows take a few seconds
        for n in range(args.count):
            text = TEXT.format(n=n)
            enqueue_email(
                key=f"bench-backlog:{n}",
                kind="order_confirmation",
                recipient=f"shopper{n % 100}@example.com",
                subject=f"Your Swiftcart order BENCH-{n:05}",
                text_body=text,
                html_body=HTML.format(paragraphs=text.replace("\n\n", "</p><p>").replace("\n", "<br>")),
            )
    print(f"queued {args.count} emails")


if __name__ == "__main__":
    main()
