"""What the benchmarks need: a shop under gunicorn on a fresh database, an SMTP sink in
its own process, a sampler of the server's memory and threads, and small helpers to count
emails, compute percentiles and print tables.

The shop's launcher, the form parser, free_port and the silent broker are the tests' own
(tests/served.py): one copy of each, which the test suite keeps working.

Every process started here runs in its own process group (session) and is stopped by the
context manager that started it, also on an error or Ctrl+C.
"""

from __future__ import annotations

import email.parser
import json
import os
import platform
import resource
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
sys.path.insert(0, str(ROOT))  # the tests' helpers: one launcher, one form parser, one free_port
from tests.served import HiddenFields, ServedShop, SilentBroker, free_port  # noqa: E402,F401 (re-exported)

T = TypeVar("T")

# The configuration gunicorn.conf.py recommends for a 1-2 core VPS.
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 4
# Variables of the developer's own shell that would change what is measured (config.py,
# gunicorn.conf.py): the benchmark sets its own.
SHOP_VARIABLES = ("SHOP_", "MAIL_", "GUNICORN_", "RATELIMIT_", "CELERY_")
SHOP_SINGLE_VARIABLES = ("DATABASE_URL", "SECRET_KEY", "WEB_CONCURRENCY", "FLASK_APP")
HEALTH_TOKEN = secrets.token_hex(16)  # SHOP_HEALTH_TOKEN of every shop the benchmarks start


class BenchError(RuntimeError):
    """The benchmark cannot go on (a process died, a condition never came true)."""


# ---------------------------------------------------------------- small helpers
def wait_until(condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll `condition` until it returns something true; raise BenchError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise BenchError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50, p95 and p99 (linear interpolation between samples); None without samples."""
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    if len(values) == 1:
        return dict.fromkeys(("p50", "p95", "p99"), values[0])
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def markdown_table(headers: list[str], rows: Iterable[list[str]]) -> str:
    """A GitHub Markdown table with aligned columns, ready to paste into docs/performance.md."""
    rows = [headers, *rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(rows[0]), rule, *(line(r) for r in rows[1:])])


def fmt(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return {
        "commit": _commit(),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "kernel": platform.release(),
    }


def describe_machine(machine: dict[str, Any]) -> str:
    """One line for the top of a benchmark's output: what the figures were measured on."""
    return (
        f"Machine: {machine['nproc']} CPU ({machine['cpu']}), {machine['ram_gib']} GiB RAM, "
        f"Python {machine['python']}, SQLite {machine['sqlite']}; commit {machine['commit']}"
    )


def write_figures(path: Path, figures: dict[str, Any]) -> None:
    """The run's figures as JSON at `path` (bench/results/ by default); say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    print(f"\nFigures: {path}")


def _busy_cpu_seconds() -> float:
    """CPU time all processes of the machine have used since boot, from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU time of this process and of every child it has waited for (gunicorn, workers, sink)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class OtherLoad:
    """How busy the machine was with work that is not the benchmark's (a test suite, a
    build): everything that shares the cores shows up in the latencies."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self._busy, self._own = _busy_cpu_seconds(), _own_cpu_seconds()
        # CPU of processes we started but never waited for (gunicorn workers killed with
        # their master are reaped by init): ours, though getrusage cannot see it.
        self.orphaned_cpu_seconds = 0.0
        # CPU of the PostgreSQL server processes that served the shop's database: not our
        # children, but our work (bench/checkout.py --database-url).
        self.database_cpu_seconds = 0.0

    def percent(self) -> float:
        """Other processes' CPU since the start, in % of one core. Call it once every process
        the benchmark started has ended (a running child's CPU is not counted as ours yet)."""
        own = _own_cpu_seconds() - self._own + self.orphaned_cpu_seconds + self.database_cpu_seconds
        others = (_busy_cpu_seconds() - self._busy) - own
        return max(0.0, 100 * others / (time.monotonic() - self.started))

    def report(self) -> float:
        percent = self.percent()
        print(f"\nOther processes on this machine used {percent:.0f} % of one core during the run.")
        if percent > 10:
            print("That is noise in every figure above: for figures to publish, run on a quiet machine.")
        return percent


def fill_defaults(args: Any, defaults: dict[str, Any]) -> None:
    """Options left unset take these values (which may depend on --quick)."""
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)


def save_chart(figure: Any, path: Path) -> None:
    """Lay out, write and close a matplotlib figure; say where it went."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    print(f"\nChart: {path}")


def run_main(main: Callable[[], int]) -> None:
    """Run a benchmark's main(): a short message instead of a traceback for BenchError and
    Ctrl+C (the context managers have stopped every process by the time we get here)."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; every process the benchmark started has been stopped", file=sys.stderr)
        sys.exit(130)
    except BenchError as error:
        print(f"\nbenchmark failed: {error}", file=sys.stderr)
        sys.exit(1)


def _commit() -> str:
    """The repository's commit (read only), so that figures can be matched to the code."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip()


# ---------------------------------------------------------------- processes
def stop_group(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process's whole group, then SIGKILL it if it outlives `grace` seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()


def shop_environment(tmp: Path, smtp_port: int, database_url: str | None = None, **settings: str) -> dict[str, str]:
    """The environment of every shop process: this shell's, less its shop settings, plus a
    fresh SQLite database (or `database_url`) and instance folder in `tmp` and the given
    settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(SHOP_VARIABLES) and name not in SHOP_SINGLE_VARIABLES
    }
    env.update(
        DATABASE_URL=database_url or f"sqlite:///{tmp / 'shop.db'}",
        SHOP_INSTANCE_PATH=str(tmp),
        SECRET_KEY=secrets.token_hex(32),
        SHOP_HEALTH_TOKEN=HEALTH_TOKEN,  # /healthz's outbox counts are for the owner only
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(smtp_port),
        PYTHONUNBUFFERED="1",
    )
    env.update(settings)
    return env


def run_flask(env: dict[str, str], *args: str, root: Path = ROOT) -> str:
    """Run `flask --app wsgi ARGS` as the owner would (in the shop's tree at `root`); its
    output, or BenchError."""
    command = [PYTHON, "-m", "flask", "--app", "wsgi", *args]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def baseline_tree(ref: str, into: Path) -> Path:
    """The shop at commit `ref`, unpacked (no .git) into `into`: the "before" of a comparison
    (backlog.py --baseline, checkout.py --against)."""
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=False)
    if archive.returncode != 0:
        raise BenchError(f"git archive {ref} failed: {archive.stderr.decode(errors='replace')}")
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def outbox_figures(database: Path) -> dict[str, Any]:
    """Rows, attempts in all, most attempts of one email, and rows by status, read straight
    from the SQLite file (also while the shop runs, or after it was killed)."""
    with closing(sqlite3.connect(database, timeout=30)) as connection:
        rows, attempts, most = connection.execute(
            "SELECT count(*), coalesce(sum(attempts), 0), coalesce(max(attempts), 0) FROM outbox_email"
        ).fetchone()
        statuses = dict(connection.execute("SELECT status, count(*) FROM outbox_email GROUP BY status").fetchall())
    return {"rows": rows, "attempts": attempts, "most": most, "by_status": statuses}


class PostgresDatabase:
    """A database of its own for one round on the PostgreSQL server of `server_url` (any
    database there that the user can connect to, e.g. .../postgres): CREATE DATABASE
    bench_<random>, dropped on leaving, also after an error or Ctrl+C. Enter it before
    the shop starts, so that it is dropped after the shop has stopped."""

    def __init__(self, server_url: str) -> None:
        from sqlalchemy.engine import make_url

        self.server_url = make_url(server_url)
        if self.server_url.get_backend_name() != "postgresql":
            raise BenchError(f"--database-url must be a postgresql URL, got {server_url!r}")
        self.name = f"bench_{secrets.token_hex(6)}"
        self.url = self.server_url.set(database=self.name).render_as_string(hide_password=False)
        self._admin: Any = None

    def __enter__(self) -> PostgresDatabase:
        import sqlalchemy as sa
        from sqlalchemy.pool import NullPool

        # CREATE and DROP DATABASE cannot run in a transaction.
        self._admin = sa.create_engine(self.server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            self._execute(f'CREATE DATABASE "{self.name}"')
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._admin is None:
            return
        try:
            # FORCE: a connection left behind (a killed worker's) cannot keep it alive.
            self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            self._admin.dispose()
            self._admin = None

    def _execute(self, sql: str, **params: Any) -> list[Any]:
        import sqlalchemy as sa

        with self._admin.connect() as connection:
            result = connection.execute(sa.text(sql), params)
            return list(result) if result.returns_rows else []

    def server_version(self) -> str:
        return str(self._execute("SHOW server_version")[0][0]).split()[0]  # "15.20 (Debian ...)"

    def backends_cpu_seconds(self) -> dict[int, float]:
        """{pid: CPU seconds so far} of the server processes connected to this database;
        empty when the server runs on another machine (its processes are not in /proc)."""
        rows = self._execute("SELECT pid FROM pg_stat_activity WHERE datname = :name", name=self.name)
        pids = [row[0] for row in rows]
        return {pid: cpu_seconds(pid) for pid in pids if Path(f"/proc/{pid}/stat").exists()}


def cpu_used_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the processes of `after` used since `before` was taken (a process that
    started in between counts whole; one that ended in between is missed)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


class ShopServer(ServedShop):
    """The tests' ServedShop (tests/served.py: gunicorn -c gunicorn.conf.py -w 2 --threads 4
    on a free port, logging to a file) with the benchmark's own environment, in the shop's
    tree at `root`; ready once /healthz answers and every worker process exists. Stopped
    when the `with` block ends, with the last lines of its log after an error."""

    def __init__(self, env: dict[str, str], log_path: Path, workers: int = GUNICORN_WORKERS, root: Path = ROOT) -> None:
        self._prepare(dict(env), log_path, root)
        self.workers = workers

    def __enter__(self) -> ShopServer:
        try:
            self.start(self.workers, timeout=60, threads=GUNICORN_THREADS)
        except AssertionError as error:
            raise BenchError(f"gunicorn on port {self.port}: {error}") from None
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        # A clean stop lets sends in progress finish; in sync mode a request may hold a
        # thread for a whole SMTP conversation, so do not wait for the full graceful_timeout.
        self.stop()
        if kind is not None and not issubclass(kind, KeyboardInterrupt):
            print(f"\n--- last lines of {self.log_path} ---\n{tail(self.log_path)}\n---", file=sys.stderr)

    def ready(self, workers: int) -> bool:
        # Without --preload each worker imports the app after the fork; healthz proves one
        # serves, and the shoppers' sign-up happens before anything is timed.
        return len(process_tree(self.pid)) >= 1 + workers and super().ready(workers)

    def kill(self, timeout: float = 20) -> float:  # type: ignore[override]
        """SIGKILL the master and its workers at once (the whole process group), as a power
        cut or the OOM killer would: no worker_exit hook, no finished sends, no cleanup.

        Returns the CPU seconds the workers had used: init reaps them, not us, so
        OtherLoad must be told (OtherLoad.orphaned_cpu_seconds)."""
        workers = process_tree(self.pid)[1:]
        workers_cpu = sum(cpu_seconds(pid) for pid in workers)  # a worker has no children
        super().kill()
        # The workers are orphans now, reaped by init: wait until none of them runs.
        wait_until(lambda: not any(_running(pid) for pid in workers), timeout, "the killed workers to end")
        return workers_cpu

    def healthz(self) -> dict[str, Any]:
        """/healthz with its details (the outbox counts), as the owner's monitor sees it."""
        found = self.health(self.env.get("SHOP_HEALTH_TOKEN", HEALTH_TOKEN))
        if found is None:
            raise BenchError(f"/healthz of {self.url} did not answer 200")
        return found


class SmtpSinkProcess:
    """tests/smtp_sink.py in its own process: accepts every message after `delay` seconds
    and saves it as a .eml file in `maildir`, or misbehaves as `mode` says (hang, tempfail
    for the first `times` messages, permfail, drop_quit; see tests/smtp_sink.py).

    A mode cannot change while the sink runs: stop it and start another on the same port.
    `refuse` is not a mode here: for a refused connection, run no sink at all."""

    def __init__(
        self,
        port: int,
        delay: float,
        maildir: Path,
        log_path: Path,
        mode: str = "accept",
        times: int = 0,
        greeting_delay: float = 0.0,
        quiet: bool = False,
        reuse_port: bool = False,
    ) -> None:
        if mode == "refuse":
            raise ValueError("for refused connections, start no sink: nothing listens on the port")
        self.port, self.delay, self.maildir, self.log_path = port, delay, maildir, log_path
        self.mode, self.times, self.greeting_delay, self.quiet = mode, times, greeting_delay, quiet
        self.reuse_port = reuse_port  # several sinks on one port: the kernel spreads the connections
        self.process: subprocess.Popen[bytes] | None = None
        self.listening_at: float | None = None  # time.time() when the port first took a connection

    def __enter__(self) -> SmtpSinkProcess:
        command = [
            *(PYTHON, str(ROOT / "tests" / "smtp_sink.py"), "--port", str(self.port)),
            *("--delay", str(self.delay), "--maildir", str(self.maildir)),
            *("--mode", self.mode, "--times", str(self.times), "--greeting-delay", str(self.greeting_delay)),
            *(["--quiet"] if self.quiet else []),  # no log line per message: 10,000 of them cost the sink CPU
            *(["--reuse-port"] if self.reuse_port else []),
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            # Polled often: the shop's senders are retrying, and the first email follows at once.
            wait_until(self._listening, 20, f"the SMTP sink on port {self.port}", interval=0.02)
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        self.listening_at = time.time()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self.process is None:
            return
        stop_group(self.process, grace=5)
        self.process = None
        if kind is not None and not issubclass(kind, KeyboardInterrupt):
            print(f"\n--- last lines of {self.log_path} ---\n{tail(self.log_path)}\n---", file=sys.stderr)

    def _listening(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise BenchError(f"the SMTP sink exited with code {self.process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False


# ---------------------------------------------------------------- memory and threads
def _running(pid: int) -> bool:
    """Whether any thread of process `pid` still runs.

    The process's own state is not enough: after SIGKILL the main thread can be a zombie
    while another thread still finishes the system call it was in (a write to SQLite's
    WAL, say), holding the process's files and locks until it ends."""
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            state = stat.read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):  # the thread ended meanwhile
            continue
        if state not in ("Z", "X"):
            return True
    return False


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (gunicorn: the master and its workers), from /proc."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo.extend(int(child) for child in children.read_text().split())
            except OSError:  # the process ended meanwhile
                continue
    return found


def rss_and_threads(pid: int) -> tuple[int, int]:
    """(resident memory in bytes, thread count) of one process; (0, 0) if it is gone."""
    rss = threads = 0
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0, 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    return rss, threads


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process tree, from /proc/<pid>/stat."""
    total = 0
    for current in process_tree(pid):
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    at: float  # seconds since the sampler started
    rss_bytes: int  # summed over the process tree
    threads: int
    processes: int


class ResourceSampler:
    """Samples the RSS and thread count of a process tree every `interval` seconds, in a
    thread of this process, from the moment the context is entered until it is left."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval = pid, interval
        self.samples: list[Sample] = []
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="resource-sampler", daemon=True)

    def __enter__(self) -> ResourceSampler:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = process_tree(self.pid)
            measured = [rss_and_threads(pid) for pid in pids]
            self.samples.append(
                Sample(
                    at=time.monotonic() - self.started,
                    rss_bytes=sum(rss for rss, _ in measured),
                    threads=sum(threads for _, threads in measured),
                    processes=len(pids),
                )
            )
            self._stop.wait(self.interval)

    def peak_rss_mib(self) -> float | None:
        return max(s.rss_bytes for s in self.samples) / 2**20 if self.samples else None

    def peak_threads(self) -> int | None:
        return max(s.threads for s in self.samples) if self.samples else None


# ---------------------------------------------------------------- emails at the sink
@dataclass(frozen=True)
class Mailbox:
    files: int
    distinct: int  # distinct Message-IDs
    first_arrival: float | None  # time.time() of the first and last file written
    last_arrival: float | None

    @property
    def duplicates(self) -> int:
        return self.files - self.distinct


class MaildirReader:
    """Counts the .eml files the sink wrote and their distinct Message-IDs. Each file is
    parsed once (headers only), so polling a growing folder stays cheap."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self._seen: dict[str, tuple[str, float]] = {}  # file name: (Message-ID, mtime)
        self.recipients: dict[str, float] = {}  # To: earliest arrival (time.time())
        self._parser = email.parser.BytesHeaderParser()

    def read(self) -> Mailbox:
        if self.maildir.exists():
            for path in self.maildir.glob("*.eml"):
                if path.name not in self._seen:
                    with path.open("rb") as f:
                        headers = self._parser.parse(f)
                    message_id = str(headers.get("Message-ID", "")).strip()
                    # The sink creates the file, then writes it: a file read in between has
                    # no headers yet. Read it again next time rather than count it wrong.
                    if message_id:
                        arrived = path.stat().st_mtime
                        self._seen[path.name] = (message_id, arrived)
                        to = str(headers.get("To", "")).strip()
                        self.recipients[to] = min(arrived, self.recipients.get(to, arrived))
        arrivals = [mtime for _, mtime in self._seen.values()]
        return Mailbox(
            files=len(self._seen),
            distinct=len({message_id for message_id, _ in self._seen.values()}),
            first_arrival=min(arrivals, default=None),
            last_arrival=max(arrivals, default=None),
        )
