"""Activation throughput: sends through the whole chain (consent gate at dispatch, masking, one
audit record per attempt, the ledger) to a real local SMTP server, against bare SMTP sends of the
same messages in the same run; a birthday-month journey over many profiles (enrolment to last
send); cart abandonment lateness (due time -> provider accepted) with the worker running.

Profiles are written directly with batched UNWIND (this measures activation, not ingestion).

    VEIL_NEO4J_URI=bolt://127.0.0.1:7688 .venv/bin/python bench/activation_sends.py [--profiles 100000]

Writes bench/results/activation_sends.json.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from access.principal import Principal, PrincipalKind
from activation.channels.base import Message
from activation.channels.email import EmailChannel
from activation.service import ActivationService
from activation.settings import ActivationSettings
from activation.templates import template
from activation.worker import RoundReport
from api.container import build_container
from api.settings import AppSettings
from consent.model import Purpose
from graph.migrations import apply_migrations

RESULTS = Path(__file__).resolve().parent / "results"
SEED = """
UNWIND $rows AS r
CREATE (p:Profile {id: r.id, workspace: $ws, status: 'active', first_seen: datetime($first),
                   last_seen: datetime($first), `trait.first_name`: r.name, `trait.member_tier`: r.tier,
                   `act.birth_month`: r.month, `score.lifecycle_stage`: 'Active'})
CREATE (:Identifier {key: $ws + '|email|' + r.email, workspace: $ws, type: 'email', value: r.email})
       -[:IDENTIFIES]->(p)
CREATE (p)-[:GAVE]->(:Consent {id: 'c-' + r.id, workspace: $ws, subject: r.id, purpose: 'marketing',
        channel: 'any', status: 'granted', lawful_basis: 'consent', source: 'bench',
        captured_at: datetime($first), jurisdiction: 'TW_PDPA'})
"""
TIERS = ("basic", "silver", "gold", "platinum")


def seed(c: Any, ws: str, n: int, month_of: Any) -> None:
    first = (datetime.now(UTC) - timedelta(days=90)).isoformat()
    rows = [{"id": f"{ws}-p{i}", "name": f"Member{i}", "tier": TIERS[i % 4], "month": month_of(i),
             "email": f"m{i}@bench.example"} for i in range(n)]
    for i in range(0, n, 5000):
        c.driver.execute_query(SEED, rows=rows[i:i + 5000], ws=ws, first=first, database_=c.neo4j.database)


class Timer:
    """Wall time spent inside wrapped callables (summed over threads)."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.lock = threading.Lock()

    def wrap(self, obj: Any, attr: str, name: str) -> None:
        fn = getattr(obj, attr)

        @functools.wraps(fn)
        def timed(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                with self.lock:
                    self.total[name] += time.perf_counter() - t

        setattr(obj, attr, timed)


def service(c: Any, smtp_port: int, **extra: Any) -> ActivationService:
    settings = ActivationSettings(smtp_host="127.0.0.1", smtp_port=smtp_port, unsubscribe_secret="bench-secret",
                                  quiet_start="00:00", quiet_end="00:00", batch_size=500, lane_threads=4,
                                  daily_cap=50, **extra)
    svc = ActivationService(driver=c.driver, database=c.neo4j.database, pipeline=c.pipeline, audit=c.audit,
                            jurisdiction=c.activation.jurisdiction, settings=settings)
    svc.ensure_ready()
    return svc


def admin_ctx(c: Any, ws: str) -> Any:
    return c.pipeline.context(Principal(id="user:bench", kind=PrincipalKind.USER, workspace=ws, roles=("admin",)),
                              Purpose.marketing)


def birthday_journey(svc: ActivationService, ctx: Any) -> str:
    d = template("birthday_month")
    d["entry"]["hour"] = 0
    j = svc.create(ctx, definition=d)
    svc.publish(ctx, journey_id=j.id)
    return j.id


def chain_run(c: Any, port: int, n: int) -> dict[str, Any]:
    """n sends through the whole chain; the cost of each stage per send."""
    ws = f"bench-act-{uuid.uuid4().hex[:8]}"
    month = datetime.now(ZoneInfo("Asia/Taipei")).month
    seed(c, ws, n, lambda i: month)
    svc = service(c, port)
    ctx = admin_ctx(c, ws)
    birthday_journey(svc, ctx)
    timer = Timer()
    timer.wrap(svc.recipients, "read", "recipients (authz, gate, decrypt, mask)")
    timer.wrap(svc.dispatcher.audit, "record_many", "audit (one record per attempt)")
    for name in ("claim", "claim_person", "recent_counts", "finish"):
        timer.wrap(svc.ledger, name, "ledger (claim, dedupe, cap, outcome)")
    sender = svc.registry.get("email")
    timer.wrap(sender, "send", "smtp send (summed over lane threads)")
    worker = svc.worker(ws)
    t0 = time.perf_counter()
    report = RoundReport()
    worker.engine_round(datetime.now(UTC), report)
    t_engine = time.perf_counter() - t0
    t1 = time.perf_counter()
    worker.lane_round("email", datetime.now(UTC), report)
    t_dispatch = time.perf_counter() - t1
    sent = report.outcomes().get("accepted", 0)
    svc.close()
    return {"sends": sent, "engine_s": t_engine, "dispatch_s": t_dispatch, "sends_per_s": sent / t_dispatch,
            "end_to_end_per_s": sent / (t_engine + t_dispatch), "outcomes": report.outcomes(),
            "ms_per_send": {k: 1000 * v / max(sent, 1) for k, v in timer.total.items()}}


def bare_run(port: int, n: int, threads: int = 4) -> dict[str, Any]:
    """The same messages straight to SMTP with the same concurrency: no gate, audit or ledger."""
    from concurrent.futures import ThreadPoolExecutor

    ch = EmailChannel(host="127.0.0.1", port=port, sender="Veil <no-reply@veil.localhost>")
    msgs = [Message(key=f"bare-{uuid.uuid4().hex}", profile_id="p", address=f"m{i}@bench.example",
                    subject="生日快樂 Member", body="生日快樂！會員生日禮：滿千折百") for i in range(n)]
    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(ch.send, msgs))
    dt = time.perf_counter() - t
    ok = sum(1 for r in results if r.outcome.value == "accepted")
    return {"sends": ok, "seconds": dt, "sends_per_s": ok / dt}


def birthday_scale(c: Any, port: int, n: int) -> dict[str, Any]:
    """A birthday-month journey over n profiles (a twelfth are in the month): enrolment to last send."""
    ws = f"bench-bday-{uuid.uuid4().hex[:8]}"
    rng = random.Random(42)
    t = time.perf_counter()
    seed(c, ws, n, lambda i: rng.randint(1, 12))
    load_s = time.perf_counter() - t
    svc = service(c, port)
    birthday_journey(svc, admin_ctx(c, ws))
    worker = svc.worker(ws)
    t0 = time.perf_counter()
    report = worker.tick(datetime.now(UTC))
    total = time.perf_counter() - t0
    svc.close()
    return {"profiles": n, "seed_s": load_s, "entered": sum(report.engine.entered.values()),
            "sent": report.outcomes().get("accepted", 0), "enrolment_to_last_send_s": total}


def cart_lateness(c: Any, port: int, carts: int, spread_s: float) -> dict[str, Any]:
    """Carts arrive over `spread_s`; a 1-minute wait; the worker polls every second. Lateness =
    provider accepted - the moment the wait ended."""
    ws = f"bench-cart-{uuid.uuid4().hex[:8]}"
    seed(c, ws, carts, lambda i: 1)
    svc = service(c, port, poll_seconds=1.0)
    ctx = admin_ctx(c, ws)
    d = template("cart_abandoned")
    d["steps"][0]["minutes"] = 1
    d["entry"]["event"] = "Bench Cart"
    j = svc.create(ctx, definition=d)
    svc.publish(ctx, journey_id=j.id)
    worker = svc.worker(ws)
    worker.start()
    start = datetime.now(UTC)
    rows = []
    for i in range(carts):
        at = start + timedelta(seconds=spread_s * i / carts)
        rows.append({"pid": f"{ws}-p{i}", "key": f"{ws}-e{i}", "ts": at.isoformat()})
    # Events are written as they "happen" (in a few batches across the spread).
    batches = 10
    for b in range(batches):
        chunk = rows[b * carts // batches:(b + 1) * carts // batches]
        c.driver.execute_query("""UNWIND $rows AS r MATCH (p:Profile {id: r.pid})
            CREATE (p)-[:PERFORMED]->(:Interaction {key: r.key, workspace: $ws, message_id: r.key, type: 'track',
                                                    event: 'Bench Cart', ts: datetime(r.ts)})""",
                               rows=chunk, ws=ws, database_=c.neo4j.database)
        time.sleep(spread_s / batches)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        got = c.driver.execute_query("MATCH (s:Send {workspace: $ws}) WHERE s.state = 'accepted' RETURN count(s) AS n",
                                     ws=ws, database_=c.neo4j.database)[0][0]["n"]
        if got >= carts:
            break
        time.sleep(1)
    worker.stop()
    lat = c.driver.execute_query("""MATCH (s:Send {workspace: $ws, state: 'accepted'}), (r:JourneyRun {key: s.run_key})
        RETURN duration.inSeconds(r.entered_at + duration({minutes: 1}), s.accepted_at).milliseconds / 1000.0 AS late""",
                                 ws=ws, database_=c.neo4j.database)[0]
    late = sorted(r["late"] for r in lat)
    svc.close()
    return {"carts": carts, "sent": len(late), "late_p50_s": statistics.median(late) if late else None,
            "late_p99_s": late[min(len(late) - 1, int(0.99 * len(late)))] if late else None,
            "late_max_s": late[-1] if late else None}


def wait_for_port(port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise SystemExit(f"SMTP sink did not start on {port}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sends", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--profiles", type=int, default=100_000, help="birthday-month journey size")
    ap.add_argument("--carts", type=int, default=300)
    ap.add_argument("--smtp-port", type=int, default=8025)
    args = ap.parse_args()
    c = build_container(app=AppSettings(env="test"))
    apply_migrations(c.driver, database=c.neo4j.database)
    # The SMTP server runs in its own process (as a provider would), quiet.
    sink = subprocess.Popen([sys.executable, "-m", "api.cli", "activation", "sinks", "--quiet", "--smtp-port",
                             str(args.smtp_port), "--http-port", str(args.smtp_port + 88)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(args.smtp_port)
    try:
        chain, bare = [], []
        for r in range(args.rounds):  # alternate which goes first
            if r % 2:
                bare.append(bare_run(args.smtp_port, args.sends))
                chain.append(chain_run(c, args.smtp_port, args.sends))
            else:
                chain.append(chain_run(c, args.smtp_port, args.sends))
                bare.append(bare_run(args.smtp_port, args.sends))
        print("chain rounds:", json.dumps([{k: v for k, v in x.items() if k != "outcomes"} for x in chain]), flush=True)
        print("bare rounds:", json.dumps(bare), flush=True)
        med_chain = statistics.median(x["sends_per_s"] for x in chain)
        med_e2e = statistics.median(x["end_to_end_per_s"] for x in chain)
        med_bare = statistics.median(x["sends_per_s"] for x in bare)
        stages = {k: statistics.median(x["ms_per_send"].get(k, 0.0) for x in chain) for k in chain[0]["ms_per_send"]}
        bday = birthday_scale(c, args.smtp_port, args.profiles) if args.profiles else None
        cart = cart_lateness(c, args.smtp_port, args.carts, 30.0) if args.carts else None
    finally:
        sink.terminate()
        sink.wait(30)
        c.close()
    print(f"\n{'path':<44}{'sends/s':>10}")
    print(f"{'whole chain (dispatch: gate+audit+ledger+SMTP)':<44}{med_chain:>10.0f}")
    print(f"{'whole chain incl. enrolment and planning':<44}{med_e2e:>10.0f}")
    print(f"{'bare SMTP, same messages and concurrency':<44}{med_bare:>10.0f}")
    print(f"ratio chain / bare: {med_chain / med_bare:.2f}")
    print("\nms per send by stage (median of rounds):")
    for k, v in stages.items():
        print(f"  {k:<48}{v:>8.2f}")
    if bday:
        print(f"\nbirthday month over {bday['profiles']} profiles: {bday['entered']} entered, {bday['sent']} sent, "
              f"enrolment to last send {bday['enrolment_to_last_send_s']:.1f} s")
    if cart:
        print(f"cart abandonment ({cart['carts']} carts): lateness p50 {cart['late_p50_s']:.2f} s, "
              f"p99 {cart['late_p99_s']:.2f} s, max {cart['late_max_s']:.2f} s")
    RESULTS.mkdir(exist_ok=True)
    out = {"sends_per_round": args.sends, "rounds": args.rounds, "chain": chain, "bare": bare,
           "median_chain_sends_per_s": med_chain, "median_end_to_end_sends_per_s": med_e2e,
           "median_bare_sends_per_s": med_bare, "ratio_chain_over_bare": med_chain / med_bare,
           "ms_per_send_by_stage": stages, "birthday": bday, "cart": cart,
           "measured_at": datetime.now(UTC).isoformat()}
    (RESULTS / "activation_sends.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
