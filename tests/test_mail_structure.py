"""shop/mail's modules import one way, downwards, and use no private CPython API."""

from __future__ import annotations

import ast
import re
from pathlib import Path

MAIL = Path(__file__).resolve().parent.parent / "shop" / "mail"
# Each module may import only those before it (issue 14: no circle, deliver() below the pool,
# the pool and the Celery task above it).
LAYERS = [
    "mime",
    "outbox",
    "attachments",
    "messages",
    "sender",
    "delivery",
    "breaker",
    "recorder",
    "dispatcher",
    "tasks",
]


def mail_imports(path: Path) -> set[str]:
    """The shop.mail modules `path` imports (at any depth of the file, lazily or not)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("shop.mail"):
            found.update(
                [node.module.rpartition(".")[2]] if node.module != "shop.mail" else [a.name for a in node.names]
            )
        elif isinstance(node, ast.Import):
            found.update(a.name.rpartition(".")[2] for a in node.names if a.name.startswith("shop.mail."))
    return found


def test_shop_mail_modules_import_only_downwards():
    modules = {p.stem for p in MAIL.glob("*.py")} - {"__init__"}
    assert modules == set(LAYERS), "place a new module of shop/mail in LAYERS"
    for module in LAYERS:
        allowed = set(LAYERS[: LAYERS.index(module)])
        upward = mail_imports(MAIL / f"{module}.py") - allowed
        assert not upward, f"shop/mail/{module}.py imports {upward}, which sit above it"


def test_no_private_cpython_api_in_the_shop():
    private = re.compile(r"\b(threading|concurrent\.futures\.thread|sys|os|socket|smtplib)\._[a-z]\w*")
    for path in (MAIL.parent).rglob("*.py"):
        assert not private.search(path.read_text()), path
