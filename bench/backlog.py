"""Backlog benchmark: 10,000 emails pending while SMTP is down, then SMTP comes back.

    python bench/backlog.py            # 10,000 emails (about 2½ minutes)
    python bench/backlog.py --quick    # 2,000 emails, shorter outage

What it shows: does memory or the thread count grow with the backlog while the shop keeps
retrying a dead SMTP server, and how fast does the backlog drain once SMTP answers,
against what the pool can do at most (sender threads / seconds per message).

Steps: a fresh SQLite database with the emails queued through enqueue_email()
(bench/seed_outbox.py); the shop under gunicorn (2 workers x 4 threads) with nothing
listening on its SMTP port and SHOP_MAIL_RETRY_BASE_SECONDS=1, SHOP_MAIL_SWEEP_SECONDS=1
so that failed emails fall due again within the outage; RSS and threads of the
gunicorn processes sampled every 0.2 s and /healthz every 0.5 s; after --down-seconds the
SMTP sink starts (--delay seconds per message) and the benchmark waits until /healthz shows
nothing pending or sending.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

from harness import (
    GUNICORN_THREADS,
    GUNICORN_WORKERS,
    PYTHON,
    ROOT,
    BenchError,
    MaildirReader,
    OtherLoad,
    ResourceSampler,
    Sample,
    ShopServer,
    SmtpSinkProcess,
    cpu_seconds,
    fill_defaults,
    fmt,
    free_port,
    machine_info,
    markdown_table,
    run_flask,
    run_main,
    save_chart,
    shop_environment,
)

MAIL_WORKERS = 4  # SHOP_MAIL_WORKERS, the shop's default: sender threads per gunicorn worker
HEALTH_INTERVAL = 0.5  # seconds between two /healthz polls


def seed(env: dict[str, str], count: int) -> None:
    done = subprocess.run(
        [PYTHON, str(ROOT / "bench" / "seed_outbox.py"), str(count)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"seeding the outbox failed:\n{done.stdout}{done.stderr}")


def watch(
    server: ShopServer,
    timeline: list[dict[str, float]],
    zero: float,
    seconds: float,
    done: Callable[[dict[str, int]], bool] | None = None,
) -> bool:
    """Poll /healthz every HEALTH_INTERVAL for at most `seconds`, adding the outbox counts to
    `timeline` (time since `zero`); True as soon as `done(outbox)` holds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        outbox = server.healthz()["outbox"]
        timeline.append({"at": time.monotonic() - zero, **outbox})
        if done is not None and done(outbox):
            return True
        time.sleep(HEALTH_INTERVAL)
    return False


def attempt_counts(database: Path) -> dict[str, int]:
    """After the run: how many send attempts the rows took in all (plain SQL on the file)."""
    with closing(sqlite3.connect(database)) as connection:
        rows, attempts, most = connection.execute(
            "SELECT count(*), coalesce(sum(attempts), 0), coalesce(max(attempts), 0) FROM outbox_email"
        ).fetchone()
    return {"rows": rows, "attempts": attempts, "max_attempts_of_one_email": most}


def peak(samples: list[Sample], start: float, end: float) -> tuple[float | None, int | None]:
    """Peak RSS (MiB) and thread count of the samples taken between start and end."""
    window = [s for s in samples if start <= s.at <= end]
    if not window:
        return None, None
    return max(s.rss_bytes for s in window) / 2**20, max(s.threads for s in window)


def run(args: argparse.Namespace) -> dict[str, Any]:
    mail_threads = MAIL_WORKERS * args.workers
    timeline: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="swiftcart-backlog-") as tmp_name:
        tmp = Path(tmp_name)
        smtp_port = free_port()  # nothing listens there until the sink starts: connection refused
        env = shop_environment(
            tmp, smtp_port, SHOP_MAIL_RETRY_BASE_SECONDS=str(args.retry_base), SHOP_MAIL_SWEEP_SECONDS="1"
        )
        run_flask(env, "db", "upgrade")
        print(f"  queueing {args.emails:,} emails ...", flush=True)
        seed(env, args.emails)

        with ExitStack() as stack:
            server = stack.enter_context(ShopServer(env, tmp / "gunicorn.log", workers=args.workers))
            sampler = stack.enter_context(ResourceSampler(server.pid))
            zero = sampler.started
            print(f"  SMTP down for {args.down_seconds:g} s ...", flush=True)
            shop_cpu_at_start = cpu_seconds(server.pid)
            watch(server, timeline, zero, args.down_seconds)

            maildir = tmp / "mail"
            sink = SmtpSinkProcess(smtp_port, args.delay, maildir, tmp / "smtp.log")
            stack.enter_context(sink)
            smtp_up = time.monotonic() - zero
            shop_cpu_at_smtp_up = cpu_seconds(server.pid)
            print(f"  SMTP up ({args.delay:g} s per message), draining ...", flush=True)
            ideal = args.emails * args.delay / mail_threads
            drained = watch(server, timeline, zero, 120 + 3 * ideal, lambda o: o["pending"] == 0 and o["sending"] == 0)
            drained_at = time.monotonic() - zero
            assert sink.process is not None
            # CPU in % of one core: is the shop, or the SMTP sink, the bottleneck of the drain?
            shop_cpu_down = 100 * (shop_cpu_at_smtp_up - shop_cpu_at_start) / smtp_up
            shop_cpu_draining = 100 * (cpu_seconds(server.pid) - shop_cpu_at_smtp_up) / (drained_at - smtp_up)
            sink_cpu_draining = 100 * cpu_seconds(sink.process.pid) / (drained_at - smtp_up)
            outbox_at_end = server.healthz()["outbox"]
            mailbox = MaildirReader(maildir).read()
        # Every process has stopped here; the database file is still in the temporary folder.
        attempts = attempt_counts(tmp / "shop.db")

    assert sink.listening_at is not None
    samples = sampler.samples
    rss_down, threads_down = peak(samples, 0, smtp_up)
    rss_up, threads_up = peak(samples, smtp_up, drained_at)
    first, last = mailbox.first_arrival, mailbox.last_arrival
    to_last = last - sink.listening_at if last is not None else None
    return {
        "emails": args.emails,
        "gunicorn_workers": args.workers,
        "gunicorn_threads": GUNICORN_THREADS,
        "mail_threads": mail_threads,
        "smtp_delay_s": args.delay,
        "retry_base_s": args.retry_base,
        "down_seconds": args.down_seconds,
        "drained": drained,
        "outbox_at_end": outbox_at_end,
        "emails_distinct": mailbox.distinct,
        "emails_duplicates": mailbox.duplicates,
        "rss_at_start_mib": samples[0].rss_bytes / 2**20 if samples else None,
        "threads_at_start": samples[0].threads if samples else None,
        "peak_rss_down_mib": rss_down,
        "peak_threads_down": threads_down,
        "peak_rss_draining_mib": rss_up,
        "peak_threads_draining": threads_up,
        "drain_seconds_healthz": drained_at - smtp_up,
        # max(0, ...): a sender may get in between the port opening and the probe noticing.
        "smtp_up_to_first_email_s": max(0.0, first - sink.listening_at) if first is not None else None,
        "smtp_up_to_last_email_s": to_last,
        "rate_per_second": mailbox.distinct / to_last if to_last else None,
        "rate_while_sending_per_second": mailbox.distinct / (last - first) if first and last and last > first else None,
        "expected_rate_per_second": mail_threads / args.delay,
        "attempts": attempts,
        "failed_attempts": attempts["attempts"] - outbox_at_end["sent"],
        "shop_cpu_percent_down": shop_cpu_down,
        "shop_cpu_percent_draining": shop_cpu_draining,
        "sink_cpu_percent_draining": sink_cpu_draining,
        "samples": [vars(s) for s in samples],
        "timeline": timeline,
        "smtp_up_at_s": smtp_up,
        "drained_at_s": drained_at,
    }


def print_report(figures: dict[str, Any]) -> None:
    rows = [
        ["emails queued", f"{figures['emails']:,}"],
        [
            "shop",
            f"gunicorn -w {figures['gunicorn_workers']} --threads {figures['gunicorn_threads']}, "
            f"{figures['mail_threads']} sender threads in all",
        ],
        ["SMTP down for", f"{figures['down_seconds']:g} s (retry base {figures['retry_base_s']:g} s, sweep 1 s)"],
        ["send attempts that failed (whole run)", f"{figures['failed_attempts']:,}"],
        ["most attempts of one email", str(figures["attempts"]["max_attempts_of_one_email"])],
        ["shop CPU while SMTP down (100 % = one core)", f"{figures['shop_cpu_percent_down']:.0f} %"],
        ["RSS / threads after start", f"{fmt(figures['rss_at_start_mib'])} MiB / {figures['threads_at_start']}"],
        [
            "peak RSS / threads, SMTP down",
            f"{fmt(figures['peak_rss_down_mib'])} MiB / {figures['peak_threads_down']}",
        ],
        [
            "peak RSS / threads, draining",
            f"{fmt(figures['peak_rss_draining_mib'])} MiB / {figures['peak_threads_draining']}",
        ],
        ["SMTP delay per message", f"{figures['smtp_delay_s']:g} s"],
        ["SMTP up → first email", f"{fmt(figures['smtp_up_to_first_email_s'], 1)} s"],
        ["SMTP up → last email (drain time)", f"{fmt(figures['smtp_up_to_last_email_s'], 1)} s"],
        ["SMTP up → /healthz shows 0 pending, 0 sending", f"{fmt(figures['drain_seconds_healthz'], 1)} s"],
        [
            "emails delivered (distinct) / duplicates",
            f"{figures['emails_distinct']:,} / {figures['emails_duplicates']}"
            + ("" if figures["drained"] else " (did not drain in time)"),
        ],
        ["outbox at the end", ", ".join(f"{k} {v}" for k, v in figures["outbox_at_end"].items())],
        ["drain rate (emails / drain time)", f"{fmt(figures['rate_per_second'], 1)} /s"],
        [
            "CPU while draining: shop / SMTP sink",
            f"{figures['shop_cpu_percent_draining']:.0f} % / {figures['sink_cpu_percent_draining']:.0f} %",
        ],
        ["rate while sending (first to last email)", f"{fmt(figures['rate_while_sending_per_second'], 1)} /s"],
        [
            "expected at most (sender threads / delay)",
            f"{fmt(figures['expected_rate_per_second'], 1)} /s",
        ],
    ]
    print()
    print(markdown_table(["backlog", "figure"], rows))


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
        f"Swiftcart: {figures['emails']:,} emails, SMTP down {figures['down_seconds']:g} s, then "
        f"{figures['smtp_delay_s']:g} s per message (gunicorn master + {figures['gunicorn_workers']} workers)"
    )
    save_chart(figure, path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 emails and an 8 s outage")
    parser.add_argument("--emails", type=int, help="emails queued (10,000)")
    parser.add_argument("--down-seconds", type=float, help="how long SMTP refuses connections (25)")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds per message once SMTP is up (0.05)")
    parser.add_argument("--retry-base", type=float, default=1.0, help="SHOP_MAIL_RETRY_BASE_SECONDS (1)")
    parser.add_argument("--workers", type=int, default=GUNICORN_WORKERS, help="gunicorn workers (2)")
    parser.add_argument("--json", type=Path, help="figures as JSON (default bench/results/backlog[-quick].json)")
    parser.add_argument(
        "--chart", type=Path, help="PNG chart (default docs/performance-backlog.png; --quick: bench/results/)"
    )
    args = parser.parse_args(argv)
    defaults = {
        "emails": 2000 if args.quick else 10_000,
        "down_seconds": 8.0 if args.quick else 25.0,
        "json": ROOT / "bench" / "results" / ("backlog-quick.json" if args.quick else "backlog.json"),
        "chart": ROOT / ("bench/results/backlog-quick.png" if args.quick else "docs/performance-backlog.png"),
    }
    fill_defaults(args, defaults)
    if args.emails < 1 or args.workers < 1 or args.delay <= 0:
        parser.error("--emails and --workers must be at least 1, --delay above 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info()
    print(
        f"Machine: {machine['nproc']} CPU ({machine['cpu']}), {machine['ram_gib']} GiB RAM, "
        f"Python {machine['python']}, SQLite {machine['sqlite']}; commit {machine['commit']}"
    )
    other_load = OtherLoad()
    figures = {"machine": machine, **run(args)}
    print_report(figures)
    machine["other_cpu_percent"] = other_load.report()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nFigures: {args.json}")
    draw_chart(figures, args.chart)
    return 0


if __name__ == "__main__":
    run_main(main)
