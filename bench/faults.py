"""Email fault scenarios: whatever the SMTP server or the shop's processes do, does every
email arrive, and arrive once?

    python bench/faults.py                    # 7 scenarios, 20 orders each (about 1½ minutes)
    python bench/faults.py --quick            # 8 orders each, shorter faults (under a minute)
    python bench/faults.py --scenario crash   # one scenario (repeatable)
    python bench/faults.py --keep /tmp/faults # keep every scenario's logs, database and .eml files

Each scenario starts from nothing: a temporary folder with a copy of a freshly migrated
SQLite database (24 products, imported with the owner's CLI), the shop under gunicorn
(2 workers x 4 threads, gunicorn.conf.py) and tests/smtp_sink.py as the SMTP server in its
own process; a change of the server's behaviour stops the sink and starts another on the
same port. Shoppers sign up and order over HTTP as in bench/checkout.py. The shop runs with
short retry settings (FAULT_SETTINGS below), so that retries come within seconds.

Scenarios:
    refused     nothing listens on the SMTP port during the orders and --outage seconds
                from their start; then the sink starts
    tempfail    the sink answers 451 to the first 2 x orders messages (about two temporary
                failures per email), then accepts
    permfail    the sink answers 550: every email becomes `failed` after one attempt; then
                an accepting sink, and `flask outbox retry --all-failed`
    hung        the sink takes the TCP connection and never answers, --hang-seconds from
                the start of the orders; then an accepting sink
    crash       SMTP refused during the orders, then gunicorn's master and workers are
                killed with SIGKILL (the whole process group); the sink starts, and the
                shop starts again on the same database
    drop_quit   the sink accepts each message, then hangs up instead of answering QUIT
    two-procs   --backlog emails queued (bench/seed_outbox.py), then sent by the shop
                (2 workers) and `flask outbox drain` running at the same time

For each: orders placed, emails delivered (distinct Message-IDs at the sink), duplicates
(a Message-ID received twice), send attempts (the outbox's own count of attempts), the time
from the end of the fault to the last email, and POST /checkout p50/max during the fault.
A scenario passes when every email arrived once and the outbox shows them all sent; the
script exits with 1 if one did not (or could not run to the end), after running the others.
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from checkout import Shopper, drive_orders, product_ids, write_products
from harness import (
    GUNICORN_THREADS,
    GUNICORN_WORKERS,
    PYTHON,
    ROOT,
    BenchError,
    MaildirReader,
    OtherLoad,
    ShopServer,
    SmtpSinkProcess,
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
    shop_environment,
    stop_group,
    wait_until,
    write_figures,
)

log = logging.getLogger("faults")

# Short retries, so that a whole scenario takes seconds (defaults: 30 s, 15 s, 10 s). The
# lease of a claimed email is 2 x MAIL_TIMEOUT + 5 = 11 s.
FAULT_SETTINGS = {"SHOP_MAIL_RETRY_BASE_SECONDS": "1", "SHOP_MAIL_SWEEP_SECONDS": "1", "MAIL_TIMEOUT": "3"}
SCENARIOS = ("refused", "tempfail", "permfail", "hung", "crash", "drop_quit", "two-procs")
DRAIN_SINK_DELAY = 0.2  # seconds per message in two-procs: long enough for both processes to overlap
# One line per attempt from shop/mail/delivery.py: deliver().
ATTEMPT_LINE = re.compile(r"outbox id=\d+ to=\S+ attempt=\d+ outcome=(\w+)(?:.*? error=(['\"])(.*)\2)?")


@dataclass
class FaultResult:
    scenario: str
    fault: str  # what was done, in one line
    orders_wanted: int
    orders_placed: int = 0
    order_errors: list[str] = field(default_factory=list)
    emails_expected: int = 0
    delivered: int = 0  # distinct Message-IDs at the sink
    files: int = 0  # messages the sink accepted
    duplicates: int = 0
    attempts: int = 0  # attempts counted by the outbox (a retry of a failed email restarts its count: added up)
    most_attempts_of_one_email: int = 0
    fault_end: str = "fault end"  # what the next figure counts from
    fault_end_to_last_email_s: float | None = None
    checkout_ms: list[float] = field(default_factory=list)  # POST /checkout during the fault
    outbox_at_end: dict[str, int] = field(default_factory=dict)
    settled: bool = False  # nothing pending or sending before the deadline
    attempt_log: dict[str, int] = field(default_factory=dict)  # "outcome (error)": lines in the shop's logs
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    other_cpu_percent: float = 0.0
    orphaned_cpu_seconds: float = 0.0  # CPU of the workers crash killed (init reaps them, not us)

    @property
    def passed(self) -> bool:
        return (
            self.settled
            and not self.order_errors
            and self.delivered == self.emails_expected
            and self.duplicates == 0
            and self.outbox_at_end.get("sent") == self.emails_expected
        )


# ---------------------------------------------------------------- one scenario's world
class Scene:
    """A scenario's temporary folder, database, SMTP port and processes.

    Nothing listens on the SMTP port until a sink starts. Every process started here is
    stopped when the scene's ExitStack closes, also on an error or Ctrl+C."""

    def __init__(
        self, stack: ExitStack, tmp: Path, template: Path, result: FaultResult, args: argparse.Namespace
    ) -> None:
        self.stack, self.tmp, self.result, self.args = stack, tmp, result, args
        for path in template.glob("shop.db*"):  # the database and, if any, its WAL
            shutil.copy(path, tmp / path.name)
        self.database = tmp / "shop.db"
        self.smtp_port = free_port()
        self.env = shop_environment(tmp, self.smtp_port, **FAULT_SETTINGS)
        self.maildir, self.reader = tmp / "mail", MaildirReader(tmp / "mail")
        self.sink_log = tmp / "smtp.log"
        self.shop_logs: list[Path] = []  # one per start of the shop
        self.sink: SmtpSinkProcess | None = None
        self.fault_ended_at: float | None = None  # time.time()
        self.last_order_at: float | None = None

    def start_sink(self, mode: str = "accept", times: int = 0, delay: float = 0.0) -> SmtpSinkProcess:
        """Stop the running sink, if any, and start one in `mode` on the same port."""
        self.stop_sink()
        sink = SmtpSinkProcess(self.smtp_port, delay, self.maildir, self.sink_log, mode=mode, times=times)
        self.stack.enter_context(sink)
        self.sink = sink
        log.info("  SMTP sink: %s%s", mode, f" (first {times} messages)" if times else "")
        return sink

    def stop_sink(self) -> None:
        if self.sink is not None:
            self.sink.__exit__(None, None, None)  # idempotent: the stack's exit does nothing then
            self.sink = None

    def start_shop(self, workers: int = GUNICORN_WORKERS) -> ShopServer:
        self.shop_logs.append(self.tmp / f"gunicorn-{len(self.shop_logs) + 1}.log")
        return self.stack.enter_context(ShopServer(self.env, self.shop_logs[-1], workers=workers))

    def place_orders(self, server: ShopServer) -> None:
        """--shoppers shoppers sign up, then place --orders orders between them."""
        shoppers = [Shopper(server.url, f"shopper{n}@example.com") for n in range(self.args.shoppers)]
        for shopper in shoppers:
            self.stack.callback(shopper.session.close)
            shopper.register()
        timings, errors = drive_orders(shoppers, product_ids(server.url), self.result.orders_wanted)
        self.result.orders_placed, self.result.order_errors = len(timings), errors
        # One confirmation per order (SHOP_OWNER_EMAIL is unset), and one per sign-up: each
        # shopper's registration queues its confirm_email.
        self.result.emails_expected = len(timings) + len(shoppers)
        self.result.checkout_ms = [t.checkout_s * 1000 for t in timings]
        self.last_order_at = max((t.placed_at for t in timings), default=None)
        log.info("  %d orders placed, %d errors", len(timings), len(errors))
        if errors:
            log.warning("  first order error: %s", errors[0])

    def hold_fault(self, started: float, seconds: float) -> None:
        """The deliberate part: keep the fault until `seconds` after `started` (monotonic)."""
        remaining = started + seconds - time.monotonic()
        if remaining > 0:
            log.info("  fault held %.1f s more", remaining)
            time.sleep(remaining)

    def outbox(self, server: ShopServer) -> dict[str, int]:
        return server.healthz()["outbox"]

    def wait_settled(self, server: ShopServer) -> None:
        """Wait until every expected email is sent or failed and none is pending or sending."""

        def settled() -> bool:
            counts = self.outbox(server)
            done = counts["sent"] + counts["failed"] >= self.result.emails_expected
            return done and counts["pending"] == 0 and counts["sending"] == 0

        try:
            wait_until(settled, self.args.settle_timeout, "the outbox to settle", interval=0.25)
            self.result.settled = True
        except BenchError as error:
            log.error("  %s; outbox: %s", error, self.outbox(server))

    def finish(self, server: ShopServer) -> None:
        """Read the figures: the sink's mailbox, the outbox's counts and attempts, the logs."""
        result = self.result
        result.outbox_at_end = self.outbox(server)
        mailbox = self.reader.read()
        result.delivered, result.files, result.duplicates = mailbox.distinct, mailbox.files, mailbox.duplicates
        figures = outbox_figures(self.database)
        result.attempts += figures["attempts"]
        result.most_attempts_of_one_email = max(result.most_attempts_of_one_email, figures["most"])
        if mailbox.last_arrival is not None and self.fault_ended_at is not None:
            result.fault_end_to_last_email_s = mailbox.last_arrival - self.fault_ended_at
        result.attempt_log = dict(sum(map(attempt_outcomes, self.shop_logs), Counter()).most_common())
        taken_over = sum(count_lines(path, "expired and was taken over") for path in self.shop_logs)
        if taken_over:
            result.notes.append(f"{taken_over} outcome(s) not recorded: the sender had lost its claim")
        reclaims = sum(count_lines(path, "from senders that stopped") for path in self.shop_logs)
        if reclaims:
            result.notes.append(f"{reclaims} sweep(s) took back emails whose lease had expired (see the shop's log)")


def attempt_outcomes(path: Path) -> Counter[str]:
    """The shop's log lines of attempts, counted by outcome and kind of error."""
    found: Counter[str] = Counter()
    if not path.exists():
        return found
    for line in path.read_text(errors="replace").splitlines():
        if match := ATTEMPT_LINE.search(line):
            outcome, _, error = match.groups()
            found[f"{outcome} ({error[:70]})" if error else outcome] += 1
    return found


def reclaimed(path: Path) -> int:
    """Emails the shop's sweeps took back from senders that stopped (each counted as an attempt)."""
    text = path.read_text(errors="replace") if path.exists() else ""
    return sum(
        int(a) + int(b)
        for a, b in re.findall(r"reclaimed (\d+) email\(s\) from senders that stopped; (\d+) failed", text)
    )


def count_lines(path: Path, text: str) -> int:
    if not path.exists():
        return 0
    return sum(text in line for line in path.read_text(errors="replace").splitlines())


def sink_log_times(path: Path, text: str) -> list[float]:
    """time.time() of each line of the sink's log that contains `text` (its asctime, local
    time to the millisecond: `2026-11-26 01:47:29,123 smtp-sink ...`)."""
    if not path.exists():
        return []
    return [
        datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        for line in path.read_text(errors="replace").splitlines()
        if text in line
    ]


# ---------------------------------------------------------------- the scenarios
def refused(scene: Scene) -> None:
    server = scene.start_shop()
    started = time.monotonic()
    scene.place_orders(server)
    scene.hold_fault(started, scene.args.outage)
    sink = scene.start_sink("accept")
    scene.fault_ended_at = sink.listening_at
    scene.wait_settled(server)
    scene.finish(server)


def tempfail(scene: Scene) -> None:
    times = 2 * scene.result.orders_wanted
    scene.start_sink("tempfail", times=times)
    server = scene.start_shop()
    scene.place_orders(server)

    def all_answered() -> list[float] | None:
        answered = sink_log_times(scene.sink_log, "answered 451")
        return answered if len(answered) >= times else None

    # The fault ends with the sink's last 451: from then on it accepts.
    scene.fault_ended_at = max(wait_until(all_answered, scene.args.settle_timeout, f"{times} answers 451"))
    scene.wait_settled(server)
    scene.finish(server)


def permfail(scene: Scene) -> None:
    result = scene.result
    scene.start_sink("permfail")
    server = scene.start_shop()
    scene.place_orders(server)
    try:
        wait_until(
            lambda: scene.outbox(server)["failed"] >= result.emails_expected,
            scene.args.settle_timeout,
            "every email to fail",
            interval=0.25,
        )
    except BenchError as error:
        result.notes.append(f"not all failed: {error}; outbox {scene.outbox(server)}")
    # `outbox retry` gives each email a fresh count of attempts: keep the first ones.
    before = outbox_figures(scene.database)
    result.attempts, result.most_attempts_of_one_email = before["attempts"], before["most"]
    result.notes.append(f"before the retry: {before['by_status']}, {before['attempts']} attempts")
    scene.start_sink("accept")
    output = run_flask(scene.env, "outbox", "retry", "--all-failed")
    scene.fault_ended_at = time.time()
    result.notes.append(f"`flask outbox retry --all-failed`: {output.strip().split(':')[0]}")
    scene.wait_settled(server)
    scene.finish(server)


def hung(scene: Scene) -> None:
    scene.start_sink("hang")
    server = scene.start_shop()
    started = time.monotonic()
    scene.place_orders(server)
    scene.hold_fault(started, scene.args.hang_seconds)
    sink = scene.start_sink("accept")
    scene.fault_ended_at = sink.listening_at
    scene.wait_settled(server)
    scene.finish(server)


def crash(scene: Scene) -> None:
    result = scene.result
    server = scene.start_shop()
    scene.place_orders(server)
    result.orphaned_cpu_seconds = server.kill()
    at_kill = outbox_figures(scene.database)
    result.notes.append(f"at the SIGKILL: {at_kill['by_status']}, {at_kill['attempts']} attempts so far")
    log.info("  shop killed; outbox %s", at_kill["by_status"])
    scene.start_sink("accept")
    scene.fault_ended_at = time.time()  # from the moment the new gunicorn is started
    restarted = scene.start_shop()
    scene.wait_settled(restarted)
    scene.finish(restarted)
    # Every attempt after the restart is logged (that shop is never killed), and so is every
    # reclaim of an expired lease (which counts the attempt the killed sender may have made):
    # with those counted at the kill they must add up to the outbox's count.
    after = sum(attempt_outcomes(scene.shop_logs[-1]).values()) + reclaimed(scene.shop_logs[-1])
    if at_kill["attempts"] + after != result.attempts:
        result.notes.append(
            f"attempts do not add up: {at_kill['attempts']} at the kill + {after} logged after the restart"
            f" != {result.attempts}: a claim made just before the kill became visible only later"
        )


def drop_quit(scene: Scene) -> None:
    scene.start_sink("drop_quit")
    server = scene.start_shop()
    scene.place_orders(server)
    # The fault never ends: the figure runs from the last order.
    scene.result.fault_end = "last order"
    scene.fault_ended_at = scene.last_order_at
    scene.wait_settled(server)
    scene.finish(server)


def two_procs(scene: Scene) -> None:
    result = scene.result
    result.emails_expected = scene.args.backlog
    done = subprocess.run(
        [PYTHON, str(ROOT / "bench" / "seed_outbox.py"), str(scene.args.backlog)],
        cwd=ROOT,
        env=scene.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"seeding the outbox failed:\n{done.stdout}{done.stderr}")
    scene.start_sink("accept", delay=DRAIN_SINK_DELAY)
    drain_log = scene.tmp / "drain.log"
    result.fault_end = "start"
    scene.fault_ended_at = time.time()
    with drain_log.open("ab") as output:
        drain = subprocess.Popen(
            [PYTHON, "-m", "flask", "--app", "wsgi", "outbox", "drain"],
            cwd=ROOT,
            env=scene.env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    scene.stack.callback(stop_group, drain, 15)
    server = scene.start_shop(workers=2)
    wait_until(lambda: drain.poll() is not None, scene.args.settle_timeout, "`flask outbox drain` to exit")
    scene.wait_settled(server)
    scene.finish(server)
    by_drain = attempt_outcomes(drain_log)
    by_shop = attempt_outcomes(scene.shop_logs[0])
    result.attempt_log = dict((by_drain + by_shop).most_common())
    summary = drain_log.read_text(errors="replace").strip().splitlines()
    result.notes.append(
        f"sent by `flask outbox drain`: {by_drain['sent']}, by gunicorn: {by_shop['sent']}"
        f" (drain exited {drain.returncode}: {summary[-1] if summary else 'no output'!r})"
    )


RUNNERS: dict[str, tuple[Callable[[Scene], None], str]] = {
    "refused": (refused, "SMTP port closed during the orders, then the sink starts"),
    "tempfail": (tempfail, "451 to the first 2 x orders messages, then accept"),
    "permfail": (permfail, "550 to every recipient; then accept and `flask outbox retry --all-failed`"),
    "hung": (hung, "the sink takes the connection and never answers, then a normal sink"),
    "crash": (crash, "SMTP refused, SIGKILL of gunicorn (master and workers), restart on the same db, SMTP up"),
    "drop_quit": (drop_quit, "the sink accepts each message, then hangs up instead of answering QUIT"),
    "two-procs": (two_procs, "emails queued, sent by gunicorn (2 workers) and `flask outbox drain` at once"),
}


def run_scenario(name: str, template: Path, args: argparse.Namespace) -> FaultResult:
    runner, fault = RUNNERS[name]
    result = FaultResult(name, fault, 0 if name == "two-procs" else args.orders)
    started, other_load = time.monotonic(), OtherLoad()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    try:
        # Caught outside the stack, so that the shop and the sink print the tails of their
        # logs as they stop (they do when an error passes through them).
        with ExitStack() as stack:
            if args.keep is None:
                tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"swiftcart-faults-{name}-")))
            else:
                tmp = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=args.keep))
                log.info("  kept in %s", tmp)
            runner(Scene(stack, tmp, template, result, args))
    except BenchError as error:  # this scenario cannot go on; the others still run
        log.error("  %s stopped: %s", name, error)
        result.notes.append(f"stopped: {error}")
        result.settled = False
    result.seconds = time.monotonic() - started
    other_load.orphaned_cpu_seconds = result.orphaned_cpu_seconds
    result.other_cpu_percent = other_load.percent()  # every process of the scenario has ended here
    return result


def make_template(tmp: Path) -> Path:
    """A migrated database with the benchmark's products, copied by every scenario (the two
    flask commands would otherwise take seconds per scenario on a busy machine)."""
    env = shop_environment(tmp, free_port())
    run_flask(env, "db", "upgrade")
    write_products(tmp / "products.csv")
    run_flask(env, "shop", "import-products", str(tmp / "products.csv"))
    return tmp


# ---------------------------------------------------------------- report
def table(results: list[FaultResult]) -> str:
    rows = []
    for r in results:
        ms = r.checkout_ms
        checkout = f"{fmt(percentiles(ms)['p50'])} / {fmt(max(ms))}" if ms else "–"
        to_last = fmt(r.fault_end_to_last_email_s, 1)
        if r.fault_end != "fault end" and r.fault_end_to_last_email_s is not None:
            to_last += f" (from {r.fault_end})"
        verdict = "" if r.passed else " **FAILED**"
        rows.append(
            [
                r.scenario + verdict,
                f"{r.orders_placed}/{r.emails_expected}" if r.orders_wanted else f"–/{r.emails_expected}",
                str(r.delivered),
                str(r.duplicates),
                f"{r.attempts} (≤ {r.most_attempts_of_one_email} each)",
                to_last,
                checkout,
            ]
        )
    headers = [
        "scenario",
        "orders/emails",
        "delivered",
        "duplicates",
        "attempts",
        "fault end → last email (s)",
        "checkout POST p50/max during fault (ms)",
    ]
    return markdown_table(headers, rows)


def print_report(results: list[FaultResult], args: argparse.Namespace) -> None:
    print()
    print(table(results))
    print()
    for r in results:
        attempts = ", ".join(f"{n} {what}" for what, n in r.attempt_log.items())
        print(f"- {r.scenario}: {r.fault}. {r.seconds:.0f} s; outbox at the end {r.outbox_at_end}.")
        print(f"  attempts in the shop's log: {attempts or 'none'}")
        for note in r.notes + [f"order error: {e}" for e in r.order_errors[:3]]:
            print(f"  {note}")
    print(
        "\nSettings: "
        + ", ".join(f"{k}={v}" for k, v in FAULT_SETTINGS.items())
        + f" (defaults 30, 15 and 10); gunicorn -w {GUNICORN_WORKERS} --threads {GUNICORN_THREADS},"
        f" 4 mail threads per worker, SQLite; {args.shoppers} shoppers at once; refused outage"
        f" {args.outage:g} s and hang {args.hang_seconds:g} s from the start of the orders;"
        f" two-procs sink {DRAIN_SINK_DELAY:g} s per message."
    )
    print(
        "delivered = distinct Message-IDs at the sink; duplicates = messages received more than once;"
        " attempts = the outbox's count of attempts (summed over permfail's retry, which restarts the count)."
    )


# ---------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="8 orders, 60 queued emails, shorter faults")
    parser.add_argument("--orders", type=int, help="orders per scenario (20)")
    parser.add_argument("--shoppers", type=int, default=4, help="shoppers at once (4)")
    parser.add_argument("--outage", type=float, help="refused: seconds SMTP is down from the start of the orders (5)")
    parser.add_argument(
        "--hang-seconds", type=float, help="hung: seconds the sink hangs from the start of the orders (10)"
    )
    parser.add_argument("--backlog", type=int, help="two-procs: emails queued (200)")
    parser.add_argument("--settle-timeout", type=float, default=120, help="most seconds to wait for delivery (120)")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS, help="only this scenario (repeatable)")
    parser.add_argument("--json", type=Path, help="figures as JSON (default bench/results/faults[-quick].json)")
    parser.add_argument(
        "--keep", type=Path, help="keep each scenario's folder (logs, database, .eml files) in this folder"
    )
    args = parser.parse_args(argv)
    defaults = {
        "orders": 8 if args.quick else 20,
        "outage": 3.0 if args.quick else 5.0,
        "hang_seconds": 6.0 if args.quick else 10.0,
        "backlog": 60 if args.quick else 200,
        "json": ROOT / "bench" / "results" / ("faults-quick.json" if args.quick else "faults.json"),
    }
    fill_defaults(args, defaults)
    if min(args.orders, args.shoppers, args.backlog) < 1:
        parser.error("--orders, --shoppers and --backlog must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    machine = machine_info()
    log.info(describe_machine(machine))
    results: list[FaultResult] = []
    started, other_load = time.monotonic(), OtherLoad()
    with tempfile.TemporaryDirectory(prefix="swiftcart-faults-template-") as template_dir:
        template = make_template(Path(template_dir))
        for name in args.scenario or SCENARIOS:
            log.info("%s: %s", name, RUNNERS[name][1])
            result = run_scenario(name, template, args)
            results.append(result)
            log.info(
                "%s: %s in %.0f s (%.0f s so far); other processes %.0f %% CPU",
                name,
                "passed" if result.passed else "FAILED",
                result.seconds,
                time.monotonic() - started,
                result.other_cpu_percent,
            )

    print(f"\nEmail fault scenarios, commit {machine['commit']}, {time.monotonic() - started:.0f} s in all")
    print_report(results, args)
    other_load.orphaned_cpu_seconds = sum(r.orphaned_cpu_seconds for r in results)
    machine["other_cpu_percent"] = other_load.report()
    figures = {
        "machine": machine,
        "settings": {
            **FAULT_SETTINGS,
            "gunicorn_workers": GUNICORN_WORKERS,
            "gunicorn_threads": GUNICORN_THREADS,
            "orders": args.orders,
            "shoppers": args.shoppers,
            "outage_s": args.outage,
            "hang_s": args.hang_seconds,
            "backlog": args.backlog,
            "drain_sink_delay_s": DRAIN_SINK_DELAY,
            "quick": args.quick,
        },
        "scenarios": [
            {**asdict(r), "passed": r.passed, "checkout_ms_p50": percentiles(r.checkout_ms)["p50"]} for r in results
        ],
    }
    write_figures(args.json, figures)
    failed = [r.scenario for r in results if not r.passed]
    if failed:
        log.error("failed: %s", ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    run_main(main)
