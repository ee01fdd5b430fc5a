"""Checkout benchmark: how long does placing an order take, and does email slow it down?

    python bench/checkout.py            # full run (about 5 minutes): the figures in docs/performance.md
    python bench/checkout.py --quick    # a short run, to check that everything works
    python bench/checkout.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        --scenario limit --scenario slow-smtp    # the same on PostgreSQL
    python bench/checkout.py --scenario limit --against COMMIT    # limit: this tree and COMMIT's, ABBA

Each scenario round starts from nothing: a temporary SQLite database, or with
--database-url a new PostgreSQL database (CREATE DATABASE bench_<random> on that server,
dropped at the end of the round, also after an error or Ctrl+C), migrated, products
imported with the owner's CLI; the shop under gunicorn as gunicorn.conf.py recommends
(2 workers x 4 threads), and tests/smtp_sink.py as the SMTP server in its own process.
Shoppers sign up through /auth/register, then, `--concurrency` at a time, each order is
a browser's journey: product page, "Add to cart" (following the redirect), checkout page,
"Place order" (POST /checkout, timed on its own), and the order page it redirects to.

Scenarios:
    limit           thread dispatch, SMTP answers at once: what the database and Flask cost
    slow-smtp       thread dispatch, SMTP takes --smtp-delay (5 s) per message
    sync-slow-smtp  SHOP_MAIL_DISPATCH=sync (the blocking design), SMTP takes 5 s
    smtp-down       thread dispatch, SMTP refuses connections; it is started after the
                    orders, and the benchmark waits until every email has arrived

limit and slow-smtp run in alternating rounds (limit, slow, slow, limit, ...) so that a
drift of the machine's speed affects both alike; their latencies are pooled over the rounds.
"""

from __future__ import annotations

import argparse
import atexit
import re
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
from harness import (
    GUNICORN_THREADS,
    GUNICORN_WORKERS,
    ROOT,
    BenchError,
    HiddenFields,
    MaildirReader,
    OtherLoad,
    PostgresDatabase,
    ResourceSampler,
    ShopServer,
    SmtpSinkProcess,
    baseline_tree,
    cpu_seconds,
    cpu_used_since,
    describe_machine,
    fill_defaults,
    fmt,
    free_port,
    machine_info,
    markdown_table,
    percentiles,
    process_tree,
    run_flask,
    run_main,
    save_chart,
    shop_environment,
    wait_until,
    write_figures,
)

PASSWORD = "bench-password-2024"
ADDRESS = {
    "full_name": "Ada Lovelace",
    "address": "12 Analytical Street",
    "city": "London",
    "postal_code": "N1 9GU",
    "country": "United Kingdom",
}
REQUEST_TIMEOUT = 60  # seconds; a sync checkout waits for SMTP, several may queue for a thread
MAIL_WORKERS = 4  # SHOP_MAIL_WORKERS, the shop's default: sender threads per gunicorn worker
DOWN_SETTINGS = {"SHOP_MAIL_RETRY_BASE_SECONDS": "1", "SHOP_MAIL_SWEEP_SECONDS": "1"}


# ---------------------------------------------------------------- scenarios
@dataclass(frozen=True)
class Scenario:
    name: str
    orders: int  # per round
    smtp_delay: float
    settings: dict[str, str] = field(default_factory=dict)  # environment of the shop
    smtp_down: bool = False
    root: Path = ROOT  # the shop's tree: another one with --against


@dataclass
class RoundResult:
    scenario: str
    orders_wanted: int
    orders_placed: int = 0
    errors: int = 0
    first_error: str = ""
    checkout_ms: list[float] = field(default_factory=list)  # POST /checkout alone
    journey_ms: list[float] = field(default_factory=list)  # product page to order page
    drive_seconds: float = 0.0
    catalogue_rps: float = 0.0
    catalogue_errors: int = 0
    emails_files: int = 0
    emails_distinct: int = 0
    emails_duplicates: int = 0
    mail_wait_timed_out: bool = False
    last_order_to_last_email_s: float | None = None
    smtp_up_to_last_email_s: float | None = None
    peak_rss_mib: float | None = None
    peak_threads: int | None = None
    server_cpu_percent: float = 0.0  # during the orders; 100 = one core busy
    worker_cpu_percent: list[float] = field(default_factory=list)  # each worker's share of it
    database_cpu_percent: float | None = None  # PostgreSQL's processes for the shop's database
    database_cpu_seconds: float = 0.0  # the same, whole round (not counted as other processes)
    other_cpu_percent: float = 0.0  # other processes on the machine, whole round: noise
    bench_cpu_percent: float = 0.0  # the shoppers' own CPU (this process), same scale
    outbox_at_end: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------- a browser-like shopper
def hidden_fields(html: str, action: str) -> dict[str, str]:
    """The hidden inputs (csrf_token, checkout_token) and checked radios of the form posting
    to `action`: what a browser sends untouched (tests/served.py's parser)."""
    try:
        return HiddenFields.form(html, action)["fields"]
    except AssertionError as error:
        raise BenchError(str(error)) from None


@dataclass(frozen=True)
class OrderTiming:
    checkout_s: float
    journey_s: float
    placed_at: float  # time.time() when POST /checkout answered


class Shopper:
    """One person with one browser: a requests.Session keeps the session cookie."""

    def __init__(self, base_url: str, email: str) -> None:
        self.base_url, self.email = base_url, email
        self.session = requests.Session()

    def _get(self, path: str) -> requests.Response:
        response = self.session.get(urljoin(self.base_url, path), timeout=REQUEST_TIMEOUT)
        if response.status_code != 200:
            raise BenchError(f"GET {path}: {response.status_code}")
        return response

    def register(self) -> None:
        fields = hidden_fields(self._get("/auth/register").text, "/auth/register")
        data = {**fields, "email": self.email, "password": PASSWORD, "confirm": PASSWORD}
        response = self.session.post(
            self.base_url + "/auth/register", data=data, allow_redirects=False, timeout=REQUEST_TIMEOUT
        )
        if response.status_code != 303:
            raise BenchError(f"registering {self.email}: {response.status_code}")

    def buy(self, product_id: int) -> OrderTiming:
        """Add one of the product to the cart and check out, as a browser would."""
        started = time.perf_counter()
        product_page = f"/products/{product_id}"
        fields = hidden_fields(self._get(product_page).text, f"/cart/add/{product_id}")
        added = self.session.post(
            self.base_url + f"/cart/add/{product_id}", data={**fields, "quantity": "1"}, timeout=REQUEST_TIMEOUT
        )  # follows the 303 back to the product page
        if not added.history or added.history[0].status_code != 303 or added.status_code != 200:
            raise BenchError(f"add to cart: {added.status_code}")
        fields = hidden_fields(self._get("/checkout").text, "/checkout")
        posted = time.perf_counter()
        placed = self.session.post(
            self.base_url + "/checkout", data={**fields, **ADDRESS}, allow_redirects=False, timeout=REQUEST_TIMEOUT
        )
        checkout_s = time.perf_counter() - posted
        placed_at = time.time()
        location = placed.headers.get("Location", "")
        if placed.status_code != 303 or "/orders/" not in location:
            raise BenchError(f"POST /checkout: {placed.status_code} {location}")
        self._get(location)
        return OrderTiming(checkout_s, time.perf_counter() - started, placed_at)


def product_ids(base_url: str) -> list[int]:
    """The products linked from the catalogue's first page."""
    html = requests.get(base_url + "/", timeout=REQUEST_TIMEOUT).text
    ids = sorted({int(n) for n in re.findall(r'href="/products/(\d+)(?:-[^"]*)?"', html)})
    if not ids:
        raise BenchError("the catalogue page links no product")
    return ids


# ---------------------------------------------------------------- load
def drive_orders(shoppers: list[Shopper], products: list[int], orders: int) -> tuple[list[OrderTiming], list[str]]:
    """Place `orders` orders, one shopper per thread, each taking the next order number."""
    timings: list[OrderTiming] = []
    errors: list[str] = []
    lock = threading.Lock()
    stopping = threading.Event()
    taken = 0

    def next_order() -> int | None:
        nonlocal taken
        with lock:
            if taken >= orders or stopping.is_set():
                return None
            taken += 1
            return taken

    def shop(shopper: Shopper) -> None:
        while (number := next_order()) is not None:
            try:
                timing = shopper.buy(products[number % len(products)])
            except (BenchError, requests.RequestException) as error:
                with lock:
                    errors.append(f"{shopper.email}: {error}")
                continue
            with lock:
                timings.append(timing)

    with ThreadPoolExecutor(len(shoppers), thread_name_prefix="shopper") as pool:
        futures = [pool.submit(shop, s) for s in shoppers]
        try:
            for future in futures:
                future.result()
        except BaseException:  # Ctrl+C: each shopper finishes the order in hand, then stops
            stopping.set()
            raise
    return timings, errors


def catalogue_rate(base_url: str, concurrency: int, seconds: float) -> tuple[float, int]:
    """GET / from `concurrency` anonymous visitors for `seconds`; (requests per second, errors)."""
    deadline = time.monotonic() + seconds

    def browse(_: int) -> tuple[int, int]:
        ok = failed = 0
        with requests.Session() as session:
            while time.monotonic() < deadline:
                try:
                    status = session.get(base_url + "/", timeout=REQUEST_TIMEOUT).status_code
                except requests.RequestException:
                    status = 0
                ok, failed = (ok + 1, failed) if status == 200 else (ok, failed + 1)
        return ok, failed

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency, thread_name_prefix="visitor") as pool:
        results = list(pool.map(browse, range(concurrency)))
    elapsed = time.monotonic() - started
    return sum(ok for ok, _ in results) / elapsed, sum(failed for _, failed in results)


def write_products(path: Path, count: int = 24) -> None:
    """A catalogue with ample stock (the importer's maximum), so no order runs out."""
    lines = ["sku,name,description,price,stock,category"]
    for n in range(1, count + 1):
        category = ("Tea", "Coffee", "Kitchen")[n % 3]
        lines.append(f"BENCH-{n:03},Bench {category} {n:02},A product for the benchmark.,{5 + n}.90,1000000,{category}")
    path.write_text("\n".join(lines) + "\n")


def wait_for_outbox(server: ShopServer, timeout: float) -> bool:
    """Wait until /healthz shows nothing pending or being sent; False at the deadline."""

    def settled() -> bool:
        outbox = server.healthz()["outbox"]
        return outbox["pending"] == 0 and outbox["sending"] == 0

    try:
        wait_until(settled, timeout, "the outbox to settle", interval=0.25)
    except BenchError:
        return False
    return True


# ---------------------------------------------------------------- one round
def run_round(
    scenario: Scenario, concurrency: int, catalogue_seconds: float, database_url: str | None = None
) -> RoundResult:
    result = RoundResult(scenario.name, scenario.orders)
    mail_threads = MAIL_WORKERS * GUNICORN_WORKERS
    other_load = OtherLoad()
    with tempfile.TemporaryDirectory(prefix="swiftcart-bench-") as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        smtp_port = free_port()
        # Entered first, left last: the database is dropped once the shop has stopped.
        database = stack.enter_context(PostgresDatabase(database_url)) if database_url else None
        env = shop_environment(tmp, smtp_port, database.url if database else None, **scenario.settings)
        run_flask(env, "db", "upgrade", root=scenario.root)
        write_products(tmp / "products.csv")
        run_flask(env, "shop", "import-products", str(tmp / "products.csv"), root=scenario.root)

        maildir, reader = tmp / "mail", MaildirReader(tmp / "mail")
        sink_log = tmp / "smtp.log"
        if not scenario.smtp_down:
            stack.enter_context(SmtpSinkProcess(smtp_port, scenario.smtp_delay, maildir, sink_log))
        server = stack.enter_context(ShopServer(env, tmp / "gunicorn.log", root=scenario.root))
        sampler = stack.enter_context(ResourceSampler(server.pid))

        shoppers = [Shopper(server.url, f"shopper{n}@example.com") for n in range(concurrency)]
        for shopper in shoppers:
            stack.callback(shopper.session.close)
            shopper.register()
        products = product_ids(server.url)

        # The shoppers run on the same cores as the shop: their CPU is reported next to the shop's.
        # Each worker's share too: a shopper's connection stays with the worker that accepted
        # it, so one worker may get most of the work.
        workers = process_tree(server.pid)[1:]
        workers_cpu = {pid: cpu_seconds(pid) for pid in workers}
        database_cpu = database.backends_cpu_seconds() if database else {}
        started, server_cpu, bench_cpu = time.monotonic(), cpu_seconds(server.pid), time.process_time()
        timings, errors = drive_orders(shoppers, products, scenario.orders)
        result.drive_seconds = time.monotonic() - started
        result.server_cpu_percent = 100 * (cpu_seconds(server.pid) - server_cpu) / result.drive_seconds
        result.worker_cpu_percent = [
            100 * (cpu_seconds(pid) - workers_cpu[pid]) / result.drive_seconds for pid in workers
        ]
        if database:
            used = cpu_used_since(database_cpu, database.backends_cpu_seconds())
            result.database_cpu_percent = 100 * used / result.drive_seconds
        result.bench_cpu_percent = 100 * (time.process_time() - bench_cpu) / result.drive_seconds
        result.orders_placed, result.errors = len(timings), len(errors)
        result.first_error = errors[0] if errors else ""
        result.checkout_ms = [t.checkout_s * 1000 for t in timings]
        result.journey_ms = [t.journey_s * 1000 for t in timings]

        # Browsing while the emails of those orders are still being sent (or retried).
        result.catalogue_rps, result.catalogue_errors = catalogue_rate(server.url, concurrency, catalogue_seconds)

        smtp_up_at = None
        if scenario.smtp_down:
            sink = stack.enter_context(SmtpSinkProcess(smtp_port, scenario.smtp_delay, maildir, sink_log))
            smtp_up_at = sink.listening_at

        # A generous deadline: twice what the sender threads need for these emails, plus
        # room for the retries that were waiting when SMTP came back.
        deadline = 60 + 2 * len(timings) * scenario.smtp_delay / mail_threads + (120 if scenario.smtp_down else 0)
        result.mail_wait_timed_out = not wait_for_outbox(server, deadline)
        result.outbox_at_end = server.healthz()["outbox"]
        mailbox = reader.read()
        result.emails_files, result.emails_distinct = mailbox.files, mailbox.distinct
        result.emails_duplicates = mailbox.duplicates
        if timings and mailbox.last_arrival is not None:
            last_order = max(t.placed_at for t in timings)
            # Below 0 in sync mode: the email is accepted just before the order page returns.
            result.last_order_to_last_email_s = max(0.0, mailbox.last_arrival - last_order)
            if smtp_up_at is not None:
                result.smtp_up_to_last_email_s = mailbox.last_arrival - smtp_up_at
        result.peak_rss_mib, result.peak_threads = sampler.peak_rss_mib(), sampler.peak_threads()
        if database:  # the database server's work for this round is ours, not other processes'
            result.database_cpu_seconds = cpu_used_since({}, database.backends_cpu_seconds())
            other_load.database_cpu_seconds = result.database_cpu_seconds
    result.other_cpu_percent = other_load.percent()  # every process of the round has ended here
    return result


# ---------------------------------------------------------------- report
def summarise(rounds: list[RoundResult]) -> dict[str, Any]:
    """One scenario's rounds pooled: latencies together, counts added, worst case of the rest."""
    checkout = [ms for r in rounds for ms in r.checkout_ms]
    journey = [ms for r in rounds for ms in r.journey_ms]
    placed = sum(r.orders_placed for r in rounds)

    def worst(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return max(present) if present else None

    return {
        "rounds": len(rounds),
        "orders_per_round": rounds[0].orders_wanted,
        "orders_placed": placed,
        "errors": sum(r.errors for r in rounds),
        "checkout_ms": percentiles(checkout),
        "journey_ms": percentiles(journey),
        "orders_per_second": placed / sum(r.drive_seconds for r in rounds),
        "catalogue_rps": sum(r.catalogue_rps for r in rounds) / len(rounds),
        "catalogue_errors": sum(r.catalogue_errors for r in rounds),
        "emails_distinct": sum(r.emails_distinct for r in rounds),
        "emails_duplicates": sum(r.emails_duplicates for r in rounds),
        "mail_wait_timed_out": any(r.mail_wait_timed_out for r in rounds),
        "last_order_to_last_email_s": worst([r.last_order_to_last_email_s for r in rounds]),
        "smtp_up_to_last_email_s": worst([r.smtp_up_to_last_email_s for r in rounds]),
        "peak_rss_mib": worst([r.peak_rss_mib for r in rounds]),
        "peak_threads": worst([r.peak_threads for r in rounds]),
        "server_cpu_percent": sum(r.server_cpu_percent for r in rounds) / len(rounds),
        "database_cpu_percent": (
            sum(r.database_cpu_percent or 0.0 for r in rounds) / len(rounds)
            if any(r.database_cpu_percent is not None for r in rounds)
            else None
        ),
        "bench_cpu_percent": sum(r.bench_cpu_percent for r in rounds) / len(rounds),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator is not None and denominator else None


def ratios(summary: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    found: dict[str, float | None] = {}
    pairs = [("slow-smtp", "limit"), ("sync-slow-smtp", "slow-smtp")]
    pairs += [(name, "limit") for name in summary if name.startswith("limit@")]
    for top, bottom in pairs:
        if top not in summary or bottom not in summary:
            continue
        for what in ("checkout_ms", "journey_ms"):
            for p in ("p50", "p99"):
                found[f"{top}/{bottom} {what[:-3]} {p}"] = ratio(summary[top][what][p], summary[bottom][what][p])
    return found


def print_report(summary: dict[str, dict[str, Any]], found_ratios: dict[str, float | None]) -> None:
    with_database = any(s["database_cpu_percent"] is not None for s in summary.values())
    points = ("p50", "p95", "p99")
    latency_rows = [
        [
            name,
            f"{s['orders_placed']} ({s['rounds']}×{s['orders_per_round']})",
            str(s["errors"]),
            *(fmt(s["checkout_ms"][p], 1) for p in points),
            *(fmt(s["journey_ms"][p], 1) for p in points),
        ]
        for name, s in summary.items()
    ]
    headers = ["scenario", "orders (rounds×n)", "errors", *(f"POST {p}" for p in points)]
    headers += [f"journey {p}" for p in points]
    print("\nCheckout latency, milliseconds (POST /checkout alone; whole journey: product page to order page)\n")
    print(markdown_table(headers, latency_rows))
    other_rows = []
    for name, s in summary.items():
        emails = f"{s['emails_distinct']}/{s['orders_placed']}" + (" (timed out)" if s["mail_wait_timed_out"] else "")
        other_rows.append(
            [
                name,
                fmt(s["orders_per_second"], 1),
                fmt(s["catalogue_rps"], 0) + (f" ({s['catalogue_errors']} errors)" if s["catalogue_errors"] else ""),
                emails,
                str(s["emails_duplicates"]),
                fmt(s["last_order_to_last_email_s"], 1),
                fmt(s["smtp_up_to_last_email_s"], 1),
                fmt(s["peak_rss_mib"], 0),
                fmt(s["peak_threads"], 0),
                " / ".join(
                    fmt(s[key], 0)
                    for key in ("server_cpu_percent", "database_cpu_percent", "bench_cpu_percent")
                    if with_database or key != "database_cpu_percent"
                ),
            ]
        )
    print("\nThroughput, email delivery and server resources (gunicorn master + workers)\n")
    print(
        markdown_table(
            [
                "scenario",
                "orders/s",
                "GET / req/s",
                "emails/orders",
                "duplicates",
                "last order → last email (s)",
                "SMTP up → last email (s)",
                "peak RSS (MiB)",
                "peak threads",
                "CPU % shop / database / bench" if with_database else "CPU % shop / bench",
            ],
            other_rows,
        )
    )
    if found_ratios:
        print("\nRatios\n")
        print(markdown_table(["ratio", "value"], [[k, fmt(v, 2)] for k, v in found_ratios.items()]))


def draw_chart(rounds: dict[str, list[RoundResult]], path: Path, database: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, no window
        import matplotlib.pyplot as plt
    except ImportError:
        print("\nNo chart: matplotlib is missing. Install it with: pip install -r bench/requirements.txt")
        return
    names = [name for name, rs in rounds.items() if any(r.checkout_ms for r in rs)]
    figure, axes = plt.subplots(1, 2, figsize=(11, 5), sharey=True)
    for axis, attribute, title in (
        (axes[0], "checkout_ms", "POST /checkout"),
        (axes[1], "journey_ms", "add to cart + checkout (whole journey)"),
    ):
        data = [[ms for r in rounds[name] for ms in getattr(r, attribute)] for name in names]
        # Whiskers at p1 and p99; the dots beyond them are single orders.
        axis.boxplot(data, tick_labels=[f"{n}\nn={len(d)}" for n, d in zip(names, data, strict=True)], whis=(1, 99))
        axis.set_yscale("log")
        axis.set_title(title)
        axis.grid(axis="y", which="both", alpha=0.3)
    axes[0].set_ylabel("latency, ms (log scale)")
    figure.suptitle(f"Swiftcart checkout latency: gunicorn {GUNICORN_WORKERS}×{GUNICORN_THREADS} threads, {database}")
    save_chart(figure, path)


# ---------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few orders, one round: checks that it all works")
    parser.add_argument("--concurrency", type=int, default=8, help="shoppers at once (default 8)")
    parser.add_argument("--orders", type=int, help="orders for limit and for slow-smtp, over all rounds (200)")
    parser.add_argument("--sync-orders", type=int, help="orders for sync-slow-smtp (16)")
    parser.add_argument("--down-orders", type=int, help="orders for smtp-down (100)")
    parser.add_argument("--rounds", type=int, help="alternating rounds of limit and slow-smtp (4)")
    parser.add_argument("--smtp-delay", type=float, default=5.0, help="seconds per message for slow SMTP (5)")
    parser.add_argument("--catalogue-seconds", type=float, help="length of each GET / run (5)")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=("limit", "slow-smtp", "sync-slow-smtp", "smtp-down"),
        help="run only this scenario (repeatable); default all",
    )
    parser.add_argument(
        "--against",
        type=Path,
        help="another tree of the shop (a folder), or a commit to unpack with git archive: its limit"
        " rounds, named limit@<folder or commit>, alternate with this tree's (ABBA) in the same run",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres: each round"
        " runs on a new database there (CREATE DATABASE bench_<random>), dropped at its end; default SQLite",
    )
    parser.add_argument(
        "--json", type=Path, help="figures as JSON (default bench/results/checkout[-postgresql][-quick].json)"
    )
    parser.add_argument(
        "--chart",
        type=Path,
        help="PNG chart (default docs/performance-checkout.png; --quick or --database-url: bench/results/)",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    # The SQLite figures are the ones docs/performance.md shows as a chart.
    stem = "checkout" + ("-postgresql" if args.database_url else "") + ("-against" if args.against else "")
    stem += "-quick" if quick else ""
    defaults = {
        "orders": 40 if quick else 200,
        "sync_orders": 8 if quick else 16,
        "down_orders": 20 if quick else 100,
        "rounds": 1 if quick else 4,
        "catalogue_seconds": 2.0 if quick else 5.0,
        "json": ROOT / "bench" / "results" / f"{stem}.json",
        "chart": ROOT / ("docs/performance-checkout.png" if stem == "checkout" else f"bench/results/{stem}.png"),
    }
    fill_defaults(args, defaults)
    if args.concurrency < 1 or args.rounds < 1 or min(args.orders, args.sync_orders, args.down_orders) < 1:
        parser.error("--concurrency, --rounds and the order counts must be at least 1")
    return args


def plan(args: argparse.Namespace) -> list[Scenario]:
    """The rounds to run, in order: limit and slow-smtp alternating (ABBA), then the rest."""
    per_round = max(1, args.orders // args.rounds)
    limit = Scenario("limit", per_round, 0.0)
    slow = Scenario("slow-smtp", per_round, args.smtp_delay)
    if args.against:  # the other tree's limit rounds take slow-smtp's place in the alternation
        root = args.against.resolve()
        slow = Scenario(f"limit@{root.name}", per_round, 0.0, root=root)
    order: list[Scenario] = []
    for n in range(args.rounds):
        order += [limit, slow] if n % 2 == 0 else [slow, limit]
    order.append(Scenario("sync-slow-smtp", args.sync_orders, args.smtp_delay, {"SHOP_MAIL_DISPATCH": "sync"}))
    order.append(Scenario("smtp-down", args.down_orders, 0.0, DOWN_SETTINGS, smtp_down=True))
    wanted = set(args.scenario or [s.name for s in order]) | ({slow.name} if args.against else set())
    return [s for s in order if s.name in wanted]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.against is not None and not args.against.is_dir():  # a commit, unpacked for this run
        unpacked = Path(tempfile.mkdtemp(prefix="swiftcart-against-"))
        atexit.register(shutil.rmtree, unpacked, ignore_errors=True)
        args.against = baseline_tree(str(args.against), unpacked / str(args.against))
    machine = machine_info()
    database, where = f"SQLite {machine['sqlite']}", "a new file each round"
    if args.database_url:
        # A first database made and dropped at once: the server answers and lets us do it.
        with PostgresDatabase(args.database_url) as probe:
            machine["postgresql"] = probe.server_version()
        database = f"PostgreSQL {machine['postgresql']}"
        where = f"on {probe.server_url.render_as_string()}, a new database each round"
    print(describe_machine(machine))
    print(f"Database: {database}, {where}")
    print(
        f"Shop: gunicorn -w {GUNICORN_WORKERS} --threads {GUNICORN_THREADS}, {MAIL_WORKERS} mail threads per worker; "
        f"{args.concurrency} shoppers at once"
    )
    rounds: dict[str, list[RoundResult]] = {}
    started, other_load = time.monotonic(), OtherLoad()
    for scenario in plan(args):
        print(f"  {scenario.name}: {scenario.orders} orders ...", end="", flush=True)
        result = run_round(scenario, args.concurrency, args.catalogue_seconds, args.database_url)
        rounds.setdefault(scenario.name, []).append(result)
        other_load.database_cpu_seconds += result.database_cpu_seconds
        split = "/".join(f"{p:.0f}" for p in result.worker_cpu_percent)
        print(
            f" {result.orders_placed} placed, {result.errors} errors, {result.emails_distinct} emails;"
            f" workers {split} % CPU; other processes {result.other_cpu_percent:.0f} % CPU"
            f" ({time.monotonic() - started:.0f} s so far)"
        )
        if result.first_error:
            print(f"    first error: {result.first_error}")

    summary = {name: summarise(rs) for name, rs in rounds.items()}
    found_ratios = ratios(summary)
    print_report(summary, found_ratios)
    machine["other_cpu_percent"] = other_load.report()
    if "smtp-down" in summary:
        print(
            "\nsmtp-down ran with "
            + ", ".join(f"{k}={v}" for k, v in DOWN_SETTINGS.items())
            + " (defaults 30 and 15), so that retries come within seconds; the SMTP server was started"
            " after the orders and the catalogue run."
        )
    print(
        "Catalogue GET / req/s was measured right after the orders, while their emails were still"
        " being sent (or retried)."
    )

    figures = {
        "machine": machine,
        "settings": {
            "gunicorn_workers": GUNICORN_WORKERS,
            "gunicorn_threads": GUNICORN_THREADS,
            "mail_workers_per_process": MAIL_WORKERS,
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            "smtp_delay_s": args.smtp_delay,
            "catalogue_seconds": args.catalogue_seconds,
            "smtp_down_settings": DOWN_SETTINGS,
            "quick": args.quick,
            "database": database,
        },
        "scenarios": summary,
        "ratios": found_ratios,
        "rounds": {name: [asdict(r) for r in rs] for name, rs in rounds.items()},
    }
    write_figures(args.json, figures)
    draw_chart(rounds, args.chart, database)
    return 0


if __name__ == "__main__":
    run_main(main)
