"""Search speed with 24 and with 10,000 products, on SQLite and on PostgreSQL.

For each database and catalogue size: a fresh database migrated with the real migrations,
N products (the demo catalogue's 24, then generated names and descriptions in English,
German, French, Russian and Japanese), then each query of QUERIES run ROUNDS times the
way the catalogue runs it (shop.catalog.search.search_products: the count for the pages and
the first page of 12, ranked), and once more as the whole page (GET /?q=..., rendered).
For comparison, the same words looked up by scanning (LIKE '%word%' over name and
description, what search did before the index). Prints a Markdown table of medians and
95th percentiles in milliseconds (docs/performance.md, "Search").

    .venv/bin/python bench/search.py                      # SQLite, then PostgreSQL if reachable
    .venv/bin/python bench/search.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/search.py --sizes 24 1000 --rounds 20

Nothing is left behind: the SQLite files live in a temporary folder, and the PostgreSQL
database (`CREATE DATABASE bench_search_<random>`) is dropped at the end, also on an error.
"""

from __future__ import annotations

import argparse
import logging
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shop import create_app  # noqa: E402
from shop.catalog.search import search_products  # noqa: E402
from shop.extensions import db  # noqa: E402
from shop.models import Category, Product  # noqa: E402

QUERIES = ["tea", "österreich", "KRÄUTER", "teapot", "TEA-ASSAM", "black tea", "чай", "zebra"]
PAGE_SIZE = 12
WORDS = {
    "en": "black green tea teapot mug kettle cup leaf loose blend spring harvest smoky malty floral"
    " bright strong mild organic gift box tin ceramic glass iron handmade small large",
    "de": "Kräutertee Österreichischer Bergkräuter Früchtetee Kanne Tasse Becher Sieb Mischung Ernte"
    " würzig mild kräftig Geschenk Dose Glas Eisen handgemacht",
    "fr": "thé théière tasse feuille mélange récolte doux corsé fleuri cadeau boîte verre fonte artisanal",
    "ru": "чай чайник кружка лист смесь урожай крепкий мягкий подарок банка стекло",
    "ja": "煎茶 緑茶 紅茶 急須 湯呑 茶葉 抹茶 ほうじ茶",
}


def generated_products(count: int, seed: int = 20) -> list[dict]:
    rng = random.Random(seed)
    languages = list(WORDS)
    rows = []
    for i in range(count):
        words = WORDS[rng.choice(languages)].split()
        name = " ".join(rng.sample(words, 3)).capitalize()
        description = " ".join(rng.choice(words) for _ in range(rng.randint(8, 30))) + "."
        rows.append({"sku": f"GEN-{i:05d}", "name": name, "description": description, "category": rng.randrange(8)})
    return rows


def fill(app, size: int) -> None:
    """The demo catalogue, then generated products up to `size` (in batches of 1000)."""
    runner = app.test_cli_runner()
    result = runner.invoke(args=["shop", "import-products", str(ROOT / "shop" / "catalog" / "demo_products.csv")])
    assert result.exit_code == 0, result.output
    with app.app_context():
        categories = [Category(name=f"Range {i}", slug=f"range-{i}") for i in range(8)]
        db.session.add_all(categories)
        db.session.commit()
        rows = generated_products(max(0, size - 24))
        for start in range(0, len(rows), 1000):
            db.session.add_all(
                Product(
                    sku=r["sku"],
                    name=r["name"],
                    description=r["description"],
                    price_cents=500,
                    stock=10,
                    category=categories[r["category"]],
                )
                for r in rows[start : start + 1000]
            )
            db.session.commit()


def timed(function, rounds: int) -> list[float]:
    function()  # warm: caches, prepared plans
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)


def measure(app, query: str, rounds: int) -> dict[str, object]:
    with app.app_context():
        base = sa.select(Product).where(Product.active.is_(True)).order_by(Product.name, Product.id)

        def search() -> int:
            statement = search_products(base, query)
            total = db.session.execute(sa.select(sa.func.count()).select_from(statement.subquery())).scalar()
            db.session.execute(statement.limit(PAGE_SIZE)).scalars().all()
            return total

        def scan() -> int:
            words = [w.lower() for w in query.split()]
            statement = base.where(
                *(sa.func.lower(Product.name + " " + Product.description).contains(w, autoescape=True) for w in words)
            )
            total = db.session.execute(sa.select(sa.func.count()).select_from(statement.subquery())).scalar()
            db.session.execute(statement.limit(PAGE_SIZE)).scalars().all()
            return total

        found = search()
        search_ms = timed(search, rounds)
        scan_ms = timed(scan, rounds)
    client = app.test_client()
    page_ms = timed(lambda: client.get("/", query_string={"q": query}).get_data(), max(5, rounds // 4))
    return {"found": found, "search": search_ms, "scan": scan_ms, "page": page_ms}


def run(database: str, url: str, sizes: list[int], rounds: int, workdir: Path) -> list[tuple]:
    results = []
    for size in sizes:
        if url.startswith("sqlite"):
            db_url, drop = f"sqlite:///{workdir / f'search-{size}.db'}", None
        else:
            name = f"bench_search_{secrets.token_hex(4)}"
            admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(sa.text(f'CREATE DATABASE "{name}"'))
            db_url = sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)

            def drop(name=name, admin=admin) -> None:
                with admin.connect() as c:
                    c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()

        app = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": db_url,
                "SECRET_KEY": "bench-" + "x" * 32,
                "SHOP_INSTANCE_PATH": str(workdir / "instance"),
                "SHOP_PAGE_SIZE": PAGE_SIZE,
                "SHOP_MAIL_DISPATCH": "sync",
            }
        )
        try:
            with app.app_context():
                from flask_migrate import upgrade

                upgrade()
            started = time.perf_counter()
            fill(app, size)
            filled = time.perf_counter() - started
            print(f"# {database}: {size} products stored and indexed in {filled:.1f} s", file=sys.stderr)
            for query in QUERIES:
                figures = measure(app, query, rounds)
                results.append((database, size, query, figures))
        finally:
            with app.app_context():
                db.engine.dispose()
            if drop:
                drop()
    return results


def table(results: list[tuple]) -> str:
    lines = [
        "| database | products | query | found | search median | search p95 | whole page median | scan median |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for database, size, query, f in results:
        search, page, scan = (statistics.median(f[k]) for k in ("search", "page", "scan"))
        lines.append(
            f"| {database} | {size:,} | `{query}` | {f['found']} | {search:.2f} ms | {p95(f['search']):.2f} ms"
            f" | {page:.1f} ms | {scan:.2f} ms |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[24, 10_000])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument(
        "--database-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server's database the user may CREATE DATABASE from ('' for SQLite only)",
    )
    args = parser.parse_args()
    logging.disable(logging.INFO)  # the migrations' and the mail's log lines
    with tempfile.TemporaryDirectory(prefix="bench-search-") as folder:
        results = run("SQLite", "sqlite://", args.sizes, args.rounds, Path(folder))
        if args.database_url:
            try:
                results += run("PostgreSQL", args.database_url, args.sizes, args.rounds, Path(folder))
            except sa.exc.OperationalError as error:
                print(f"# PostgreSQL not reachable, skipped: {error}", file=sys.stderr)
    print(table(results))


if __name__ == "__main__":
    main()
