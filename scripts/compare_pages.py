"""Compare the HTML of the inbox and 金融超市 pages (and every role's base template) between this checkout and
another revision, byte for byte but for the CSRF token, on the same seeded demo database.

    .venv/bin/python scripts/compare_pages.py [--base main] [--database postgresql://postgres@127.0.0.1:5432]

Seeds a scratch database as the benches do (bench/harness.py: a fresh PostgreSQL database dropped
afterwards, or a temporary SQLite file), exports the base revision with `git archive`, then asks each
code tree, in a process of its own, for the same pages as the same users: `/officer/leads` unfiltered,
filtered, with bad values and paged; `/products` likewise as visitor, applicant and officer; `/`,
`/products`, `/account/password`, `/notifications` and each role's home as each role. Prints the pages
that differ and exits 1 if any does.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from harness import busiest_officer, database_option, scratch_database, seed, server_environment

LEADS = [
    "", "?status=pushed", "?status=claimed&product=5&region=360802", "?status=disbursed", "?q=%E5%BC%A0",
    "?q=1234", "?amount_min=10&amount_max=500", "?amount_min=%EF%BC%91%EF%BC%90", "?mine=y",
    "?mine=y&status=claimed", "?region=360821", "?product=6", "?product=1", "?amount_min=abc",
    "?amount_min=0", "?amount_max=1e3", "?status=bogus&product=999", "?region=999999", "?page=2",
    "?page=3", "?page=4", "?page=99", "?page=0", "?page=abc", "?page=2&status=pushed",
    "?q=%3Cscript%3E", "?q=" + "x" * 60, "?q=++", "?status=+pushed+", "?amount_min=5&amount_max=1",
]  # fmt: skip
PRODUCTS = [
    "", "?region_code=360802", "?borrower_kind=farmer", "?borrower_kind=enterprise&tag=agri",
    "?tag=renewal", "?institution=ABC_JA", "?institution=JAGUAR", "?collateral=mortgage", "?amount=50",
    "?amount=0.5", "?q=%E8%B4%B7", "?q=%E5%86%9C%E4%B8%9A", "?sort=rate", "?sort=amount", "?amount=abc",
    "?sort=bogus", "?institution=NOPE", "?amount=-5", "?q=" + "y" * 60, "?fit=y", "?fit=",
    "?region_code=bad&tag=bad", "?q=%3Cb%3E", "?amount=1e9", "?amount=%EF%BC%95", "?q=zzzz",
    "?q=zzzz&amount=5", "?region_code=&tag=", "?page=2",
]  # fmt: skip
USERS = {"applicant": "borrower02", "finance": "finance_city", "admin": "admin",
         "guarantor": "jaguar_guarantor", "product_manager": "abc_ja_pm"}  # fmt: skip
COMMON = ["/", "/products", "/account/password", "/notifications"]
HOMES = {"applicant": "/me/needs", "guarantor": "/guarantees/queue", "admin": "/admin/users",
         "product_manager": "/manage/products", "officer": "/officer/warnings", "finance": "/finance/"}  # fmt: skip

# Run inside each code tree (its own process, its own imports): writes one file per page.
DUMP = """
import dataclasses, json, re, sys
from pathlib import Path
from urllib.parse import quote
sys.path.insert(0, sys.argv[1])
from core.settings import Settings
from portal.app import create_app
plan = json.loads(Path(sys.argv[2]).read_text())
out = Path(sys.argv[3])
token = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+(")')
app = create_app(dataclasses.replace(Settings.from_env(), testing=True))
clients = {"anon": app.test_client()}
for role, username in plan["users"].items():
    client = clients[role] = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"csrf_token": csrf, "username": username, "password": plan["password"]})
    assert response.status_code == 302, (username, response.status_code)
for who, path in plan["pages"]:
    response = clients[who].get(path)
    body = token.sub(r"\\1-\\2", response.get_data(as_text=True))
    (out / quote(f"{who}{path}", safe="")).write_text(f"{response.status_code}\\n{body}")
"""


def plan(officer: str) -> dict[str, object]:
    users = {"officer": officer, **USERS}
    pages = [("officer", "/officer/leads" + q) for q in LEADS]
    pages += [(who, "/products" + q) for q in PRODUCTS for who in ("anon", "applicant", "officer")]
    pages += [(who, path) for path in COMMON for who in ("anon", *users)]
    pages += list(HOMES.items())
    return {"users": users, "pages": pages, "password": "Jihuitong@2026"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="main", help="the revision to compare with (default main)")
    parser.add_argument("--database", help="PostgreSQL server URL (default DATABASE_URL, else SQLite)")
    args = parser.parse_args(argv)
    with (
        scratch_database(database_option(args.database), "pages") as url,
        tempfile.TemporaryDirectory(prefix="jihuitong-pages-") as tmp,
    ):
        work = Path(tmp)
        base = work / "base"
        base.mkdir()
        archive = subprocess.run(["git", "archive", args.base], cwd=ROOT, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
        env = server_environment(url, SWEEP_INTERVAL_SECONDS="0")
        seed(env, cheap_passwords=True)
        officer, _leads = busiest_officer(url)
        (work / "plan.json").write_text(json.dumps(plan(officer)))
        for name, tree in (("base", base), ("here", ROOT)):
            (work / f"out-{name}").mkdir()
            subprocess.run(
                [sys.executable, "-c", DUMP, str(tree), str(work / "plan.json"), str(work / f"out-{name}")],
                cwd=tree,
                env={**env, "PYTHONPATH": str(tree)},
                check=True,
            )
        names = sorted(p.name for p in (work / "out-base").iterdir())
        differ = [
            n for n in names if (work / "out-base" / n).read_bytes() != (work / "out-here" / n).read_bytes()
        ]
        print(f"{len(names)} pages compared with {args.base}: {len(differ)} differ")
        for name in differ:
            print(f"  differs: {name}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
