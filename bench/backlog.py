"""Backlog benchmark: what a large email backlog costs the shop while the SMTP server is
down, how fast it drains when the server answers, whether a new order's confirmation waits
behind it, and what Celery mode's checkout costs with the broker refusing or silent.

    python bench/backlog.py                  # about 15 minutes: every scenario, before and after
    python bench/backlog.py --quick          # 2,000 emails and a 20 s outage: about 4 minutes
    python bench/backlog.py --scenario outage --scenario greeting --scenario broker
    python bench/backlog.py --baseline none  # this code only

Each of outage and greeting runs on this code ("after") and, in the same run, on the code
before the mail-at-scale work ("before": --baseline, default commit 7c842b2, unpacked with
`git archive` into a temporary folder and served from there with its own migrations and
seeding script); the report gives the ratios. Every round starts from a fresh SQLite
database with --emails emails queued through enqueue_email() (bench/seed_outbox.py) and 24
products, the shop under gunicorn (2 workers x 4 threads, gunicorn.conf.py) with the shop's
default settings, and tests/smtp_sink.py as the SMTP server: --sinks processes (2) sharing
its port, each saving what it receives as .eml files.

    outage    nothing listens on the SMTP port for --outage seconds: the first half without
              orders (the shop's own CPU), the second half with one order a second (checkout
              p50). Then the sink starts, answering at once; one order is placed at that
              moment (how long its confirmation takes) and one a second while the backlog
              drains; 20 more once it has drained give checkout p50 with the server up.
    greeting  the sink waits --greeting seconds (0.15) before its 220 greeting, as a remote
              provider's TCP and TLS handshakes and login would: the drain rate.
    broker    this code only, SHOP_MAIL_DISPATCH=celery, no worker: checkout p50 of 20
              orders with Redis as the broker, with a refused one and with a silent one (a
              listener that never answers).
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from checkout import Shopper, product_ids, write_products
from harness import (
    GUNICORN_WORKERS,
    PYTHON,
    ROOT,
    BenchError,
    MaildirReader,
    OtherLoad,
    ResourceSampler,
    ShopServer,
    SilentBroker,
    SmtpSinkProcess,
    baseline_tree,
    cpu_seconds,
    describe_machine,
    fill_defaults,
    fmt,
    free_port,
    machine_info,
    markdown_table,
    outbox_figures,
    percentiles,
    run_flask,
    run_main,
    save_chart,
    shop_environment,
    write_figures,
)

SCENARIOS = ("outage", "greeting", "broker")
HEALTH_INTERVAL = 0.5  # seconds between two /healthz polls
REDIS = "redis://127.0.0.1:6379/14"  # the broker scenario's Redis database (emptied before and after)


# ---------------------------------------------------------------- one version of the shop
def prepare(tmp: Path, root: Path, smtp_port: int, emails: int, **settings: str) -> dict[str, str]:
    """A fresh database for the shop at `root`: migrated, 24 products, `emails` queued."""
    env = shop_environment(tmp, smtp_port, **settings)
    run_flask(env, "db", "upgrade", root=root)
    write_products(tmp / "products.csv")
    run_flask(env, "shop", "import-products", str(tmp / "products.csv"), root=root)
    if emails:
        done = subprocess.run(
            [PYTHON, str(root / "bench" / "seed_outbox.py"), str(emails)],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"seeding the outbox failed:\n{done.stdout}{done.stderr}")
    return env


def orders_until(
    shopper: Shopper, products: list[int], until: Callable[[int], bool], every: float = 1.0
) -> list[float]:
    """One order every `every` seconds until `until(orders placed so far)`; POST /checkout
    times in ms."""
    times: list[float] = []
    next_at = time.monotonic()
    while not until(len(times)):
        times.append(shopper.buy(products[len(times) % len(products)]).checkout_s * 1000)
        next_at += every
        time.sleep(max(0.0, next_at - time.monotonic()))
    return times


def peak(samples: list[Any], start: float, end: float) -> dict[str, float | None]:
    window = [s for s in samples if start <= s.at <= end]
    return {
        "rss_mib": max(s.rss_bytes for s in window) / 2**20 if window else None,
        "threads": max(s.threads for s in window) if window else None,
    }


def start_sinks(
    stack: ExitStack, args: argparse.Namespace, port: int, maildir: Path, tmp: Path, greeting_delay: float = 0.0
) -> list[SmtpSinkProcess]:
    """--sinks SMTP sink processes sharing one port (SO_REUSEPORT): a stand-in for a server
    that takes connections in parallel, as a provider does (one Python sink handles a few
    hundred messages a second, fewer on a busy machine)."""
    return [
        stack.enter_context(
            SmtpSinkProcess(
                port, 0.0, maildir, tmp / f"smtp-{n}.log", greeting_delay=greeting_delay, quiet=True, reuse_port=True
            )
        )
        for n in range(args.sinks)
    ]


def sinks_cpu(sinks: list[SmtpSinkProcess]) -> float:
    return sum(cpu_seconds(sink.process.pid) for sink in sinks if sink.process is not None)


# ---------------------------------------------------------------- scenarios
def outage(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {"emails": args.emails, "outage_s": args.outage}
    timeline: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="swiftcart-outage-") as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        smtp_port = free_port()  # nothing listens there until the sink starts: connection refused
        print(f"    queueing {args.emails:,} emails ...", flush=True)
        env = prepare(tmp, root, smtp_port, args.emails)
        server = stack.enter_context(ShopServer(env, tmp / "gunicorn.log", root=root))
        sampler = stack.enter_context(ResourceSampler(server.pid))
        shopper, fresh = Shopper(server.url, "orders@example.com"), Shopper(server.url, "fresh@example.com")
        for person in (shopper, fresh):
            stack.callback(person.session.close)
            person.register()
        products = product_ids(server.url)

        def poll() -> dict[str, int]:
            outbox = server.healthz()["outbox"]
            timeline.append({"at": time.monotonic() - sampler.started, **outbox})
            return outbox

        print(f"    SMTP down for {args.outage:g} s (first half quiet, then an order a second) ...", flush=True)
        started, cpu = time.monotonic(), cpu_seconds(server.pid)
        while time.monotonic() < started + args.outage / 2:
            poll()
            time.sleep(HEALTH_INTERVAL)
        half, cpu_half = time.monotonic(), cpu_seconds(server.pid)
        figures["shop_cpu_quiet_outage_percent"] = 100 * (cpu_half - cpu) / (half - started)
        down_ms = orders_until(shopper, products, lambda _: time.monotonic() >= started + args.outage)
        ended = time.monotonic()
        figures["shop_cpu_outage_with_orders_percent"] = 100 * (cpu_seconds(server.pid) - cpu_half) / (ended - half)
        figures["shop_cpu_outage_percent"] = 100 * (cpu_seconds(server.pid) - cpu) / (ended - started)
        figures["checkout_ms_outage"] = percentiles(down_ms)
        figures["attempts_during_outage"] = outbox_figures(tmp / "shop.db")["attempts"]
        up_sample = ended - sampler.started

        maildir = tmp / "mail"
        reader = MaildirReader(maildir)
        sinks = start_sinks(stack, args, smtp_port, maildir, tmp)
        assert sinks[0].listening_at is not None
        up_at, cpu_up, sink_cpu = sinks[0].listening_at, cpu_seconds(server.pid), sinks_cpu(sinks)
        fresh.buy(products[0])  # a new order the moment the server is back
        print("    SMTP up, answering at once; draining (an order a second) ...", flush=True)
        drained: list[bool] = []

        def settled(_: int) -> bool:
            outbox = poll()
            if outbox["pending"] == 0 and outbox["sending"] == 0:
                drained.append(True)
            return bool(drained) or time.time() - up_at > args.drain_timeout

        drain_ms = orders_until(shopper, products, settled)
        drained_at = time.time()
        mailbox = reader.read()
        figures["drained"] = bool(drained)
        figures["shop_cpu_draining_percent"] = 100 * (cpu_seconds(server.pid) - cpu_up) / (drained_at - up_at)
        figures["sink_cpu_draining_percent"] = 100 * (sinks_cpu(sinks) - sink_cpu) / (drained_at - up_at)
        figures["checkout_ms_draining"] = percentiles(drain_ms)
        figures["fresh_confirmation_s"] = (
            reader.recipients["fresh@example.com"] - up_at if "fresh@example.com" in reader.recipients else None
        )
        first, last = mailbox.first_arrival, mailbox.last_arrival
        figures["smtp_up_to_last_email_s"] = last - up_at if last else None
        figures["drain_rate_per_s"] = mailbox.distinct / (last - up_at) if last and last > up_at else None
        sending = last - first if first and last else 0.0
        figures["drain_rate_sending_per_s"] = (mailbox.distinct - 1) / sending if sending > 0 else None
        drained_sample = time.monotonic() - sampler.started
        print("    drained; 20 more orders with the server up ...", flush=True)
        figures["checkout_ms_up"] = percentiles(orders_until(shopper, products, lambda n: n >= 20))
        mailbox = reader.read()
        figures["emails_distinct"], figures["emails_duplicates"] = mailbox.distinct, mailbox.duplicates
        figures["outbox_at_end"] = server.healthz()["outbox"]
    figures["peak_down"] = peak(sampler.samples, 0, up_sample)
    figures["peak_draining"] = peak(sampler.samples, up_sample, drained_sample)
    figures["at_start"] = peak(sampler.samples, 0, 2)
    figures["timeline"] = timeline
    figures["samples"] = [vars(s) for s in sampler.samples]
    figures["smtp_up_at_s"] = up_sample
    return figures


def greeting(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {"emails": args.emails, "greeting_s": args.greeting}
    with tempfile.TemporaryDirectory(prefix="swiftcart-greeting-") as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        smtp_port = free_port()
        print(f"    queueing {args.emails:,} emails ...", flush=True)
        env = prepare(tmp, root, smtp_port, args.emails)
        maildir = tmp / "mail"
        reader = MaildirReader(maildir)
        start_sinks(stack, args, smtp_port, maildir, tmp, greeting_delay=args.greeting)
        print(f"    draining through a server that greets after {args.greeting:g} s ...", flush=True)
        server = stack.enter_context(ShopServer(env, tmp / "gunicorn.log", root=root))
        started = time.time()  # ready: /healthz answers and every worker runs
        sampler = stack.enter_context(ResourceSampler(server.pid))
        cpu = cpu_seconds(server.pid)

        def settled() -> bool:
            outbox = server.healthz()["outbox"]
            return outbox["pending"] == 0 and outbox["sending"] == 0

        deadline = time.time() + args.drain_timeout
        while not settled() and time.time() < deadline:
            time.sleep(HEALTH_INTERVAL)
        ended = time.time()
        mailbox = reader.read()
        figures["drained"] = time.time() < deadline
        figures["drain_s"] = (mailbox.last_arrival or ended) - started
        first, last = mailbox.first_arrival, mailbox.last_arrival
        # First to last email: the shop's start-up (and its first sweep) are not the drain.
        figures["drain_rate_per_s"] = (
            (mailbox.distinct - 1) / (last - first) if first and last and last > first else None
        )
        figures["shop_cpu_percent"] = 100 * (cpu_seconds(server.pid) - cpu) / (ended - started)
        figures["emails_distinct"], figures["emails_duplicates"] = mailbox.distinct, mailbox.duplicates
    figures["peak"] = peak(sampler.samples, 0, float("inf"))
    return figures


@contextlib.contextmanager
def redis_database() -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(REDIS, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as error:
        raise BenchError(f"the broker scenario needs Redis on 127.0.0.1:6379: {error}") from None
    try:
        yield REDIS
    finally:
        client.flushdb()
        client.close()


def broker(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    silent = SilentBroker()
    with tempfile.TemporaryDirectory(prefix="swiftcart-broker-") as tmp_name, redis_database() as redis_url:
        tmp = Path(tmp_name)
        env = prepare(tmp, root, free_port(), 0, SHOP_MAIL_DISPATCH="celery")
        brokers = {
            "redis": redis_url,
            "refused": f"redis://127.0.0.1:{free_port()}/14",
            "silent": f"redis://127.0.0.1:{silent.port}/14",
        }
        for name, url in brokers.items():
            print(f"    Celery mode, broker {name}: {args.broker_orders} orders ...", flush=True)
            with ShopServer({**env, "CELERY_BROKER_URL": url}, tmp / f"gunicorn-{name}.log", root=root) as server:
                shopper = Shopper(server.url, f"{name}@example.com")
                shopper.register()
                products = product_ids(server.url)
                times = orders_until(shopper, products, lambda n: n >= args.broker_orders, every=0.25)
                shopper.session.close()
            figures[name] = {"checkout_ms": percentiles(times), "silent_connections": len(silent.accepted)}
    silent.close()
    return figures


# ---------------------------------------------------------------- report
def ratio(after: float | None, before: float | None) -> str:
    if after is None or before is None or before == 0:
        return "–"
    return f"{after / before:.2f}x"


def p50(figures: dict[str, Any], key: str) -> float | None:
    return (figures.get(key) or {}).get("p50")


def outage_rows(before: dict[str, Any] | None, after: dict[str, Any]) -> list[list[str]]:
    b = before or {}

    def row(label: str, key: Callable[[dict[str, Any]], float | None], digits: int = 0) -> list[str]:
        return [
            label,
            fmt(key(b) if b else None, digits),
            fmt(key(after), digits),
            ratio(key(after), key(b) if b else None),
        ]

    return [
        row("shop CPU, outage without orders (% of one core)", lambda f: f["shop_cpu_quiet_outage_percent"], 1),
        row("shop CPU, outage with an order a second", lambda f: f["shop_cpu_outage_with_orders_percent"], 1),
        row("send attempts during the outage", lambda f: f["attempts_during_outage"]),
        row("checkout p50 during the outage (ms)", lambda f: p50(f, "checkout_ms_outage"), 1),
        row("checkout p50 while the backlog drains (ms)", lambda f: p50(f, "checkout_ms_draining"), 1),
        row("checkout p50 with the server up, nothing waiting (ms)", lambda f: p50(f, "checkout_ms_up"), 1),
        row(
            "checkout p50 outage / server up",
            lambda f: (p50(f, "checkout_ms_outage") or 0) / (p50(f, "checkout_ms_up") or 1),
            2,
        ),
        row("new order at server up → its confirmation (s)", lambda f: f["fresh_confirmation_s"], 1),
        row("server up → last email (s)", lambda f: f["smtp_up_to_last_email_s"], 1),
        row("drain rate: emails / (server up → last email) (/s)", lambda f: f["drain_rate_per_s"], 1),
        row("drain rate, first to last email (/s)", lambda f: f["drain_rate_sending_per_s"], 1),
        row("shop CPU while draining (%)", lambda f: f["shop_cpu_draining_percent"]),
        row("SMTP sink CPU while draining (%)", lambda f: f["sink_cpu_draining_percent"]),
        row("RSS at start (MiB)", lambda f: f["at_start"]["rss_mib"]),
        row("peak RSS, outage / draining (MiB)", lambda f: f["peak_down"]["rss_mib"]),
        row("", lambda f: f["peak_draining"]["rss_mib"]),
        row("threads at start", lambda f: f["at_start"]["threads"]),
        row("peak threads, outage / draining", lambda f: f["peak_down"]["threads"]),
        row("", lambda f: f["peak_draining"]["threads"]),
        row("emails delivered (distinct)", lambda f: f["emails_distinct"]),
        row("duplicates", lambda f: f["emails_duplicates"]),
    ]


def greeting_rows(before: dict[str, Any] | None, after: dict[str, Any]) -> list[list[str]]:
    b = before or {}

    def row(label: str, key: Callable[[dict[str, Any]], float | None], digits: int = 0) -> list[str]:
        return [
            label,
            fmt(key(b) if b else None, digits),
            fmt(key(after), digits),
            ratio(key(after), key(b) if b else None),
        ]

    return [
        row("shop ready → last email (s)", lambda f: f["drain_s"], 1),
        row("drain rate, first to last email (emails/s)", lambda f: f["drain_rate_per_s"], 1),
        row("shop CPU while draining (%)", lambda f: f["shop_cpu_percent"]),
        row("peak RSS (MiB)", lambda f: f["peak"]["rss_mib"]),
        row("peak threads", lambda f: f["peak"]["threads"]),
        row("emails delivered (distinct)", lambda f: f["emails_distinct"]),
        row("duplicates", lambda f: f["emails_duplicates"]),
    ]


def targets(results: dict[str, Any]) -> list[list[str]]:
    """The issue's targets, what was measured, and whether it was met."""
    rows = []
    after, before = results.get("outage", {}).get("after"), results.get("outage", {}).get("before")
    if after:
        cpu = after["shop_cpu_quiet_outage_percent"]
        rows.append(["outage: shop CPU ≤ 5 % of one core", f"{cpu:.1f} % (no orders)", "yes" if cpu <= 5 else "no"])
        q = (p50(after, "checkout_ms_outage") or 0) / (p50(after, "checkout_ms_up") or 1)
        rows.append(["outage: checkout p50 ≤ 1.2x server up", f"{q:.2f}x", "yes" if q <= 1.2 else "no"])
        fresh = after["fresh_confirmation_s"]
        met = fresh is not None and fresh <= 10
        rows.append(["new order's confirmation ≤ 10 s after server up", f"{fmt(fresh, 1)} s", "yes" if met else "no"])
        if before and before.get("drain_rate_per_s") and after.get("drain_rate_per_s"):
            r = after["drain_rate_per_s"] / before["drain_rate_per_s"]
            rows.append(
                [
                    "drain, instant server ≥ 5x before",
                    f"{after['drain_rate_per_s']:.0f}/s, {r:.1f}x",
                    "yes" if r >= 5 else "no",
                ]
            )
        dup = after["emails_duplicates"]
        rows.append(
            ["0 lost, 0 duplicates", f"{after['emails_distinct']:,} delivered, {dup} twice", "yes" if not dup else "no"]
        )
    g_after, g_before = results.get("greeting", {}).get("after"), results.get("greeting", {}).get("before")
    if g_after and g_before and g_after["drain_rate_per_s"] and g_before["drain_rate_per_s"]:
        r = g_after["drain_rate_per_s"] / g_before["drain_rate_per_s"]
        rows.append(
            [
                "drain, 150 ms greeting ≥ 5x before",
                f"{g_after['drain_rate_per_s']:.0f}/s, {r:.1f}x",
                "yes" if r >= 5 else "no",
            ]
        )
    broker = results.get("broker", {}).get("after")
    if broker:
        normal = p50(broker["redis"], "checkout_ms") or 0
        for name in ("refused", "silent"):
            diff = (p50(broker[name], "checkout_ms") or 0) - normal
            rows.append(
                [f"Celery, broker {name}: p50 ≤ normal + 50 ms", f"{diff:+.1f} ms", "yes" if diff <= 50 else "no"]
            )
    return rows


def print_report(results: dict[str, Any]) -> None:
    headers = ["", "before", "after", "after / before"]
    if "outage" in results:
        o = results["outage"]
        print(
            f"\n### Outage: {o['after']['emails']:,} emails waiting, SMTP refusing for {o['after']['outage_s']:g} s\n"
        )
        print(markdown_table(headers, outage_rows(o.get("before"), o["after"])))
    if "greeting" in results:
        g = results["greeting"]
        print(f"\n### Drain through a server that greets after {g['after']['greeting_s']:g} s\n")
        print(markdown_table(headers, greeting_rows(g.get("before"), g["after"])))
    if "broker" in results:
        b = results["broker"]["after"]
        rows = [[name, fmt(p50(b[name], "checkout_ms"), 1), fmt(b[name]["checkout_ms"]["p95"], 1)] for name in b]
        print("\n### Celery mode: checkout with the broker up, refused, silent (this code)\n")
        print(markdown_table(["broker", "checkout p50 (ms)", "p95 (ms)"], rows))
    print("\n### Targets\n")
    print(markdown_table(["target", "measured", "met"], targets(results)))


def draw_chart(figures: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, no window
        import matplotlib.pyplot as plt
    except ImportError:
        print("\nNo chart: matplotlib is missing. Install it with: pip install -r bench/requirements.txt")
        return
    samples, timeline = figures["samples"], figures["timeline"]
    figure, (memory, threads, outbox) = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    memory.plot([s["at"] for s in samples], [s["rss_bytes"] / 2**20 for s in samples])
    memory.set_ylabel("RSS, MiB")
    memory.set_ylim(bottom=0)
    threads.plot([s["at"] for s in samples], [s["threads"] for s in samples])
    threads.set_ylabel("threads")
    threads.set_ylim(bottom=0)
    for status in ("pending", "sending", "sent"):
        outbox.plot([t["at"] for t in timeline], [t[status] for t in timeline], label=status)
    outbox.set_ylabel("emails")
    outbox.set_xlabel("seconds since gunicorn started")
    outbox.legend()
    for axis in (memory, threads, outbox):
        axis.axvline(figures["smtp_up_at_s"], color="grey", linestyle="--")
        axis.grid(alpha=0.3)
    memory.annotate("SMTP up", (figures["smtp_up_at_s"], 0), xytext=(4, 4), textcoords="offset points")
    figure.suptitle(
        f"Swiftcart: {figures['emails']:,} emails, SMTP down {figures['outage_s']:g} s, then answering at once "
        f"(gunicorn master + {GUNICORN_WORKERS} workers)"
    )
    save_chart(figure, path)


# ---------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 emails and a 20 s outage")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS, help="run only these (repeatable)")
    parser.add_argument("--emails", type=int, help="emails queued (10,000)")
    parser.add_argument("--outage", type=float, help="seconds SMTP refuses connections (120)")
    parser.add_argument("--greeting", type=float, default=0.15, help="seconds before the sink's greeting (0.15)")
    parser.add_argument("--baseline", default="7c842b2", help="the commit to compare with, or none (7c842b2)")
    parser.add_argument("--drain-timeout", type=float, default=900, help="seconds a drain may take at most (900)")
    parser.add_argument("--broker-orders", type=int, default=20, help="orders per broker state (20)")
    parser.add_argument("--sinks", type=int, default=2, help="SMTP sink processes sharing the port (2)")
    parser.add_argument("--json", type=Path, help="figures as JSON (default bench/results/backlog[-quick].json)")
    parser.add_argument(
        "--chart", type=Path, help="PNG chart (default docs/performance-backlog.png; --quick: bench/results/)"
    )
    args = parser.parse_args(argv)
    defaults = {
        "emails": 2000 if args.quick else 10_000,
        "outage": 20.0 if args.quick else 120.0,
        "json": ROOT / "bench" / "results" / ("backlog-quick.json" if args.quick else "backlog.json"),
        "chart": ROOT / ("bench/results/backlog-quick.png" if args.quick else "docs/performance-backlog.png"),
        "scenario": list(SCENARIOS),
    }
    fill_defaults(args, defaults)
    if args.emails < 1 or args.outage <= 0:
        parser.error("--emails must be at least 1, --outage above 0")
    return args


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info()
    print(describe_machine(machine))
    machine["uptime_at_start"] = uptime()
    print(f"Load at start: {machine['uptime_at_start']}")
    other_load = OtherLoad()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="swiftcart-baseline-") as baseline_dir:
        versions = {"after": ROOT}
        if args.baseline.lower() != "none":
            versions = {"before": baseline_tree(args.baseline, Path(baseline_dir) / "shop"), "after": ROOT}
        runs = {"outage": outage, "greeting": greeting, "broker": broker}
        for name in args.scenario:
            results[name] = {}
            for version, root in versions.items():
                if name == "broker" and version == "before":
                    continue  # hung for minutes per order: see docs/performance.md
                print(f"\n{name}, {version} ({'commit ' + args.baseline if version == 'before' else 'this code'}):")
                results[name][version] = runs[name](root, args)
    machine["uptime_at_end"] = uptime()
    machine["baseline"] = args.baseline
    print_report(results)
    print(f"\nLoad at start: {machine['uptime_at_start']}\nLoad at end:   {machine['uptime_at_end']}")
    machine["other_cpu_percent"] = other_load.report()
    write_figures(args.json, {"machine": machine, **results})
    if "outage" in results:
        draw_chart(results["outage"]["after"], args.chart)
    return 0


if __name__ == "__main__":
    run_main(main)
