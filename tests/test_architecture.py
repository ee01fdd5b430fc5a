"""The shape of the code: one home for each concept, imports one way, files a reader can take in.

These read the source (with `ast` and regular expressions, no extra dependency) and import
each module of the shop in a fresh interpreter of its own.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "shop"
MAX_LINES = 300

# The codes of the payment methods and shipping options, quoted as a program would compare them.
METHOD_CODE = re.compile(r"""(["'])(bank_transfer|cash_on_delivery|pay_at_pickup|card|pickup|standard)\1""")
# Where those codes may be written: the strategies themselves. (Tests post them as form values;
# migrations/versions are the schema's history, written once.)
STRATEGIES = (SHOP / "payment", SHOP / "shipping.py")


def shop_modules() -> dict[str, Path]:
    """{dotted module name: file} for every module of the shop package."""
    modules = {}
    for path in sorted(SHOP.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_names(path: Path) -> set[str]:
    """Every module `path` imports, at its top or inside a function, as dotted names."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from shop import admin`
    return names


def area(module: str, modules: dict[str, Path]) -> str | None:
    """The part of the shop a module belongs to: its package under shop/ ('shop.checkout')
    or itself for a module directly in shop/ ('shop.pricing'); None outside the shop."""
    parts = module.split(".")
    if parts[0] != "shop":
        return None
    name = ".".join(parts[:2])
    return name if name in modules else "shop"


def test_no_payment_or_shipping_code_is_compared_outside_its_strategy():
    """A rule about a method lives in its class: outside shop/payment and shop/shipping.py,
    no Python file or template spells a method's code."""
    sources = [ROOT / "config.py", ROOT / "wsgi.py", ROOT / "gunicorn.conf.py"]
    sources += [*SHOP.rglob("*.py"), *(ROOT / "templates").rglob("*.*"), *(ROOT / "bench").rglob("*.py")]
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources
        if not any(path == home or home in path.parents for home in STRATEGIES)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if METHOD_CODE.search(line)
    ]
    assert found == []


def test_no_file_in_the_shop_is_longer_than_a_reader_takes_in():
    too_long = {
        str(path.relative_to(ROOT)): n
        for path in SHOP.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}


def test_the_shops_areas_import_each_other_one_way():
    """The import graph between the shop's areas (its packages, and its modules at the top)
    has no cycle: a reader who starts at create_app never has to jump back up."""
    modules = shop_modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        for name in imported_names(path):
            target = area(name, modules)
            if target is not None and target != area(module, modules):
                graph[area(module, modules)].add(target)
    cycles = []

    def visit(node: str, path: list[str], done: set[str]) -> None:
        for target in sorted(graph[node]):
            if target in path:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in done:
                visit(target, [*path, target], done)
        done.add(node)

    done: set[str] = set()
    for node in sorted(graph):
        if node not in done:
            visit(node, [node], done)
    assert cycles == []


def test_config_imports_nothing_of_the_shop():
    """shop/__init__.py imports config: config importing the shop would be a circle."""
    assert {name for name in imported_names(ROOT / "config.py") if name.split(".")[0] == "shop"} == set()


def test_only_checkout_uses_the_checkout_service():
    """Checkout creates orders; the order's life is shop/orders."""
    users = sorted(
        module
        for module, path in shop_modules().items()
        if not module.startswith("shop.checkout") and "shop.checkout.service" in imported_names(path)
    )
    assert users == []


# Imports each module given with the shop's modules (and config) forgotten before each one,
# as if it were the first: third-party libraries stay loaded, so this takes seconds, not minutes.
IMPORT_EACH = """
import importlib, json, sys, traceback
failures = {}
for module in sys.argv[1:]:
    for name in [n for n in sys.modules if n.split(".")[0] in ("shop", "config")]:
        del sys.modules[name]
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name.split(".")[0] in ("shop", "config"):
            failures[module] = traceback.format_exc().strip().splitlines()[-1]
    except Exception:
        failures[module] = traceback.format_exc().strip().splitlines()[-1]
print(json.dumps(failures))
"""


def test_every_module_imports_on_its_own(tmp_path):
    """Each module imported first: one that only works when another was imported before it
    hides a circle. (A module whose optional dependency is missing, Celery, is skipped.)"""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        # shop.tasks builds the app when imported: its files go here, not into the checkout.
        "SHOP_INSTANCE_PATH": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}",
        "SHOP_ENV": "development",
    }
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH, *shop_modules()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert json.loads(result.stdout.splitlines()[-1]) == {}


# A path of the shop as the docs write it: shop/mail/outbox.py, shop/orders/ (a package).
SHOP_PATH = re.compile(r"\bshop/(?:[\w]+/)*(?:[\w]+\.py\b|(?=[\s`),.;:]))")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOUR = ROOT / "docs" / "tour.md"
TOUR_STOP = re.compile(r"^## \d+\. `(shop/[\w/]+\.py)`", re.MULTILINE)
TOUR_MAX_LINES = 900


def test_every_shop_path_the_readme_and_the_docs_name_exists():
    """A file moved or renamed leaves no reader of README.md or docs/*.md looking for it."""
    missing = sorted(
        f"{doc.relative_to(ROOT)}: {path}"
        for doc in DOCS
        for path in set(SHOP_PATH.findall(doc.read_text(encoding="utf-8")))
        if not (ROOT / path).exists()
    )
    assert missing == []


def test_the_tour_is_five_files_of_at_most_900_lines_each_naming_the_next():
    """docs/tour.md reads the checkout-to-email path in an hour: five files, each one's
    module docstring says which file comes next (`Next: shop/...`)."""
    stops = TOUR_STOP.findall(TOUR.read_text(encoding="utf-8"))
    assert len(stops) == 5, stops
    lines = {stop: len((ROOT / stop).read_text(encoding="utf-8").splitlines()) for stop in stops}
    assert sum(lines.values()) <= TOUR_MAX_LINES, lines
    for here, after in itertools.pairwise(stops):
        docstring = ast.get_docstring(ast.parse((ROOT / here).read_text(encoding="utf-8"))) or ""
        assert f"Next: {after}" in docstring, here


def test_no_legacy_query_api_in_the_shop():
    """SQLAlchemy 2.0 style only: db.select / db.session.execute / db.get_or_404, never the
    legacy Model.query or session.query()."""
    legacy = re.compile(r"\bsession\.query\(|\b[A-Z]\w*\.query\b|\.query\.(get|filter|filter_by|all|first|order_by)\b")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "shop").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if legacy.search(line)
    ]
    assert not offenders, offenders
