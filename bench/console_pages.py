"""Console screens in headless chromium vs the same GraphQL documents sent bare over HTTP.

Workload: a seeded workspace (tests/console/seed.py, 250 demo customers), a real uvicorn API on
a free loopback port, Debian's chromium driven by Playwright. For each screen, a round opens it
by hash and times until its content is on screen (the page's own fetches, rendering, charts);
the baseline round sends the screen's GraphQL documents with httpx in the same order, with
the same credentials, and waits for all answers. Rounds alternate console / bare; medians over
--rounds. The ratio (console / bare) is the browser's overhead on top of the API work.

Prints a table; writes bench/results/console_pages.json. Needs a running Neo4j (VEIL_NEO4J_URI,
default the `make test` instance) and /usr/bin/chromium (VEIL_CHROMIUM).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

DAIRY = {"type": "purchase", "categories": ["dairy"], "window": {"last": 90, "unit": "days"}}
ROW = "key campaign customers orders revenue value cost suppressed"


def _screens(amy_email: str) -> list[dict[str, Any]]:
    until = datetime.now(UTC)
    since = until - timedelta(days=365)
    span = {"s": since.isoformat(), "u": until.isoformat()}
    return [
        {"name": "audit trail", "role": "compliance_officer", "purpose": "legal_obligation", "hash": "#/audit",
         "ready": "#audit-results table, #audit-results .state.empty", "all": ["#chain-status [data-chain]"], "docs": [
             ("query($f: Boolean!) { auditChainStatus(full: $f) { ok lastSeq } }", {"f": False}),
             (("{ auditRecords(first: 100) { seq at actor role action resource subject decision purpose "
              "lawfulBasis consentRecordId fieldsReturned fieldsMasked } }"), {})]},
        {"name": "who saw this customer", "role": "compliance_officer", "purpose": "legal_obligation",
         "hash": f"#/who?type=email&value={amy_email}", "ready": "#who-results table", "docs": [
             ("query($v: String!) { profileByIdentifier(type: \"email\", value: $v) { id } }", {"v": amy_email}),
             ("{ auditRecords(first: 100) { seq actor role action purpose } }", {})]},
        {"name": "segment builder (first count)", "role": "marketer", "purpose": "marketing", "hash": "#/segments",
         "ready": "#live-count[data-count]", "docs": [
             ("{ segmentVocabulary { categories } segments { id } }", {}),
             ("query($d: JSON!) { segmentPreview(definition: $d, sampleSize: 5) { count } }", {"d": DAIRY})]},
        {"name": "dashboards (all panels)", "role": "marketer", "purpose": "marketing", "hash": "#/dashboards",
         "ready": "#attribution table", "all": ["#aov-tier table", "#cohorts table", "#transitions table",
                                                "#stage-revenue table"], "docs": [
             ((f"query($s: DateTime!, $u: DateTime!) {{ kpis(since: $s, until: $u) {{ aovByTier {{ {ROW} }} "
              f"cohorts {{ month retention }} }} }}"), span),
             ("{ stageTransitions { counts } }", {}),
             (f"query($s: DateTime!, $u: DateTime!) {{ stageRevenue(since: $s, until: $u) {{ {ROW} }} }}", span),
             (f"query($s: DateTime!, $u: DateTime!) {{ attribution(since: $s, until: $u) {{ orders channels {{ {ROW} }} }} }}",
              span)]},
    ]


def _serve(container: Any) -> tuple[str, Any, threading.Thread]:
    import uvicorn

    from api.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_config=None,
                                           access_log=False, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def main() -> None:
    """Seed, serve, measure, print, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--customers", type=int, default=250)
    args = parser.parse_args()
    os.environ.setdefault("VEIL_NEO4J_URI", "bolt://127.0.0.1:7688")
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.console.seed, from a checkout

    from api.container import build_container
    from api.settings import AppSettings
    from graph.migrations import apply_migrations
    from tests.console.seed import seed

    c = build_container(app=AppSettings(env="test"))
    apply_migrations(c.driver, database=c.neo4j.database)
    seeded = seed(c, customers=args.customers)
    base, server, thread = _serve(c)
    screens = _screens(seeded.amy_email)
    results: list[dict[str, Any]] = []
    try:
        with sync_playwright() as p, httpx.Client(base_url=base, timeout=120) as http:
            browser = p.chromium.launch(executable_path=os.environ.get("VEIL_CHROMIUM", "/usr/bin/chromium"),
                                        args=["--no-sandbox"])
            sessions: dict[str, Any] = {}
            for role in {s["role"] for s in screens}:
                r = http.post("/graphql", json={"query": "mutation($u: String!, $p: String!, $w: String!) "
                                                         "{ login(username: $u, password: $p, workspace: $w) { token } }",
                                                "variables": {"u": seeded.username(role), "p": seeded.passwords[role],
                                                              "w": seeded.workspace}})
                token = r.json()["data"]["login"]["token"]
                ctx = browser.new_context(viewport={"width": 1366, "height": 860})
                page = ctx.new_page()
                page.goto(base + "/console/")
                page.fill("input[name=username]", seeded.username(role))
                page.fill("input[name=password]", seeded.passwords[role])
                page.fill("input[name=workspace]", seeded.workspace)
                page.click("form button[type=submit]")
                page.wait_for_selector("#nav a")
                sessions[role] = (token, page)
            for s in screens:
                token, page = sessions[s["role"]]
                ui: list[float] = []
                bare: list[float] = []
                for _ in range(args.rounds):
                    page.goto(base + "/console/#/health-none")  # leave the screen
                    page.wait_for_selector("#nav a")
                    t0 = time.perf_counter()
                    page.goto(base + "/console/" + s["hash"])
                    page.wait_for_selector(s["ready"], timeout=120_000)
                    for sel in s.get("all", []):
                        page.wait_for_selector(sel, timeout=120_000)
                    ui.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    for doc, variables in s["docs"]:
                        r = http.post("/graphql", json={"query": doc, "variables": variables},
                                      headers={"Authorization": f"Bearer {token}", "X-Veil-Purpose": s["purpose"]})
                        assert "errors" not in r.json(), r.text
                    bare.append(time.perf_counter() - t0)
                results.append({"screen": s["name"], "role": s["role"], "console_ms": statistics.median(ui) * 1000,
                                "bare_graphql_ms": statistics.median(bare) * 1000,
                                "ratio": statistics.median(ui) / statistics.median(bare), "rounds": args.rounds})
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        c.close()
    print(f"{'screen':32} {'role':20} {'console ms':>11} {'bare GraphQL ms':>16} {'ratio':>6}")
    for r in results:
        print(f"{r['screen']:32} {r['role']:20} {r['console_ms']:11.0f} {r['bare_graphql_ms']:16.0f} {r['ratio']:6.2f}")
    out = Path(__file__).parent / "results" / "console_pages.json"
    out.write_text(json.dumps({"customers": args.customers, "measured_at": datetime.now(UTC).isoformat(),
                               "load_average": os.getloadavg(), "results": results}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
