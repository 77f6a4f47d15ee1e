"""GraphQL profile read through the whole enforcement pipeline vs the same read as bare Cypher.

Workload: one read = a profile (traits + identifiers) and its first 20 interactions, for a
random profile id, at a fixed concurrency (default 16) on loopback.

  GraphQL: one POST /graphql per read, one document `profile(id:)` with its nested
           `interactions(first: 20)` (newest first), `X-Veil-Purpose: support`, a support_agent
           API key, against a real uvicorn server (`veil serve --workers N`). Every read goes
           authn -> authz (casbin) -> fetch -> consent gate -> masking -> audit (2 records).
  Bare:    the same data through the driver: PROFILE_BY_ID and INTERACTIONS_PAGE (limit 20) from
           graph/profiles.py, one after the other, no auth, consent, masking or audit; the
           16 threads are spread over as many processes as the API has workers (a single
           Python process is GIL-bound at about one core on the driver alone).

The GraphQL load generator defaults to 16 threads with one httpx.Client each: in trial runs it
used 2-4 ms of client CPU per read (a little less than one httpx.AsyncClient with 16 tasks),
under a tenth of a read's total CPU, so it is not the bottleneck; the table prints the
client's CPU per read so this stays checked.

Rounds alternate GraphQL / bare (medians reported). Each round also records the CPU seconds
used by the load generator, the API workers and Neo4j (from /proc), so a capped throughput
with idle CPU points at serialisation rather than work, and the audit appends other clients
of the same Neo4j made meanwhile (a shared test instance is noisy). A short in-process, single-threaded
stage breakdown of the pipeline and a 16-thread audit-append ceiling follow (skip with
--no-diagnose).

Prints a table; writes bench/results/graphql_read.json; exits 1 if any GraphQL read failed.
Needs a running Neo4j (VEIL_NEO4J_URI, default the `make test` instance).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import multiprocessing
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import neo4j

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from access.principal import Principal
from api.container import build_container
from api.logs import configure_logging
from audit.events import AuditAction, AuditEvent
from consent.model import Channel, Purpose
from graph.driver import create_driver
from graph.migrations import apply_migrations
from graph.profiles import INTERACTIONS_PAGE, PROFILE_BY_ID
from graph.settings import Neo4jSettings

QUERY = """query Read($id: ID!) {
  profile(id: $id) { id traits { name value masking } identifiers { name value masking }
                     interactions(first: 20) { event ts } }
}"""
COUNT_AUDIT = """
MATCH (a:AuditRecord {workspace: $ws}) WITH count(a) AS n
OPTIONAL MATCH (h:AuditHead {id: 'global'}) RETURN n, coalesce(h.seq, 0) AS head
"""
EVENTS = ["Product Viewed", "Product Added", "Order Completed", "Coupon Applied", "Page Scrolled",
          "Search Performed", "Checkout Started", "Store Visited"]
# Files whose version the numbers belong to (others edit the tree while benches run).
FINGERPRINT = ("access/pipeline.py", "access/authz.py", "access/auth.py", "api/graphql/schema.py",
               "api/graphql/context.py", "audit/service.py", "audit/group.py", "graph/audit.py",
               "core/group_commit.py", "graph/profiles.py", "graph/consents.py", "api/container.py")
TARGETS = {"reads_per_s_min": 500, "p99_ms_max": 25, "overhead_ratio_max": 2.0}
CLK = os.sysconf("SC_CLK_TCK")


# --- data -------------------------------------------------------------------------------------
def make_events(n_profiles: int, interactions: int, seed: int, tag: str) -> list[dict[str, Any]]:
    """Per profile: one identify (e-mail, TW mobile, name, a few traits) and ~N track events."""
    rng = random.Random(seed)
    t0 = datetime(2026, 9, 1, tzinfo=UTC)
    out: list[dict[str, Any]] = []
    for i in range(n_profiles):
        uid = f"{tag}-u{i}"
        phone = f"09{rng.randrange(10**8):08d}"
        out.append({"type": "identify", "userId": uid, "messageId": f"{tag}-{i}-id",
                    "timestamp": (t0 + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
                    "traits": {"email": f"{uid}@example.com", "phone": f"{phone[:4]}-{phone[4:7]}-{phone[7:]}",
                               "name": f"客戶 {i}", "member_tier": rng.choice(["gold", "silver", "basic"]),
                               "city": rng.choice(["台北", "台中", "高雄"]),
                               "newsletter": rng.random() < 0.5}})
        for j in range(max(21, int(rng.gauss(interactions, interactions / 10)))):
            ts = t0 + timedelta(days=rng.uniform(0, 90))
            out.append({"type": "track", "userId": uid, "event": rng.choice(EVENTS),
                        "messageId": f"{tag}-{i}-{j}", "timestamp": ts.isoformat().replace("+00:00", "Z"),
                        "properties": {"sku": f"sku-{rng.randrange(500)}", "price": rng.randrange(100, 5000)}})
    return out


def ingest(container: Any, events: list[dict[str, Any]], ws: str, batch: int) -> tuple[list[str], float]:
    """Ingest through the real service; the profile ids of the identify events."""
    ids: set[str] = set()
    t = time.perf_counter()
    for k in range(0, len(events), batch):
        chunk = events[k:k + batch]
        r = container.ingest.ingest(chunk, workspace=ws, source="bench")
        if r.rejected:
            raise SystemExit(f"ingest rejected {len(r.rejected)} events, first: {r.rejected[0]}")
        ids.update(r.profiles[i] for i, e in enumerate(chunk) if e["type"] == "identify")
    return sorted(ids), time.perf_counter() - t


# --- CPU accounting ---------------------------------------------------------------------------
def _cpu_of(pid: int) -> float:
    try:
        parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / CLK
    except (OSError, IndexError, ValueError):
        return 0.0


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _listener_pid(port: int) -> int | None:
    try:
        text = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return None
    for tok in text.replace(",", " ").split():
        if tok.startswith("pid="):
            return int(tok[4:])
    return None


def _machine_busy() -> tuple[float, float]:
    vals = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = vals[3] + vals[4]
    return (sum(vals) - idle) / CLK, sum(vals) / CLK


class CpuMeter:
    """CPU seconds of this process, the server tree and Neo4j over a section; machine busy share."""

    def __init__(self, server_pid: int | None, neo4j_pid: int | None) -> None:
        self.server_pid, self.neo4j_pid = server_pid, neo4j_pid

    def _snap(self) -> dict[str, float]:
        server = 0.0
        if self.server_pid:
            server = _cpu_of(self.server_pid) + sum(_cpu_of(c) for c in _children(self.server_pid))
        busy, total = _machine_busy()
        return {"client": time.process_time(), "api": server,
                "neo4j": _cpu_of(self.neo4j_pid) if self.neo4j_pid else 0.0, "busy": busy, "total": total}

    def measure(self, fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        """Run fn(*args) (a read round) and add CPU ms per read and the machine's busy share."""
        a = self._snap()
        out = fn(*args)
        b = self._snap()
        b["client"] += out.pop("child_cpu_s", 0.0)  # bare-path worker processes count as the client
        reads = out["reads"]
        out["cpu_ms_per_read"] = {k: (b[k] - a[k]) / reads * 1000 for k in ("client", "api", "neo4j")}
        out["machine_busy"] = (b["busy"] - a["busy"]) / max(1e-9, b["total"] - a["total"])
        return out


# --- the two read paths -----------------------------------------------------------------------
def _summary(lat: list[float], elapsed: float, reads: int) -> dict[str, Any]:
    lat = sorted(lat)
    return {"reads": reads, "seconds": elapsed, "reads_per_s": reads / elapsed,
            "p50_ms": statistics.median(lat) * 1000,
            "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000}


class Failures:
    """Failed GraphQL reads: counted and sampled, never ignored."""

    def __init__(self) -> None:
        self.count = 0
        self.samples: list[str] = []
        self._lock = threading.Lock()

    def add(self, what: str) -> None:
        with self._lock:
            self.count += 1
            if len(self.samples) < 5:
                self.samples.append(what[:300])


def _check(status: int, body: dict[str, Any] | None, pid: str, text: str, fails: Failures) -> None:
    ok = (status == 200 and body is not None and not body.get("errors") and body.get("data")
          and body["data"]["profile"]["id"] == pid and body["data"]["profile"]["identifiers"]
          and len(body["data"]["profile"]["interactions"]) == 20)
    if not ok:
        fails.add(f"{status} {text}")


def graphql_threads(ids: list[str], port: int, key: str, concurrency: int, fails: Failures) -> dict[str, Any]:
    """One httpx.Client per thread; each thread pulls the next id from a shared counter."""
    url = f"http://127.0.0.1:{port}/graphql"
    headers = {"Authorization": f"Bearer {key}", "X-Veil-Purpose": "support"}
    nxt = itertools.count()
    lats: list[list[float]] = [[] for _ in range(concurrency)]

    def worker(w: int) -> None:
        with httpx.Client(timeout=60, headers=headers) as client:
            while (i := next(nxt)) < len(ids):
                t = time.perf_counter()
                try:
                    r = client.post(url, json={"query": QUERY, "variables": {"id": ids[i]}})
                    body = r.json()
                except (httpx.HTTPError, ValueError) as exc:
                    fails.add(repr(exc))
                    continue
                lats[w].append(time.perf_counter() - t)
                _check(r.status_code, body, ids[i], r.text, fails)

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    return _summary([x for lt in lats for x in lt], time.perf_counter() - start, len(ids))


def graphql_async(ids: list[str], port: int, key: str, concurrency: int, fails: Failures) -> dict[str, Any]:
    """One httpx.AsyncClient, `concurrency` tasks on one event loop."""
    url = f"http://127.0.0.1:{port}/graphql"
    headers = {"Authorization": f"Bearer {key}", "X-Veil-Purpose": "support"}
    lat: list[float] = []

    async def run() -> float:
        nxt = iter(range(len(ids)))
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(timeout=60, headers=headers, limits=limits) as client:
            async def task() -> None:
                for i in nxt:
                    t = time.perf_counter()
                    try:
                        r = await client.post(url, json={"query": QUERY, "variables": {"id": ids[i]}})
                        body = r.json()
                    except (httpx.HTTPError, ValueError) as exc:
                        fails.add(repr(exc))
                        continue
                    lat.append(time.perf_counter() - t)
                    _check(r.status_code, body, ids[i], r.text, fails)

            start = time.perf_counter()
            await asyncio.gather(*(task() for _ in range(concurrency)))
            return time.perf_counter() - start

    elapsed = asyncio.run(run())
    return _summary(lat, elapsed, len(ids))


_BARE: dict[str, Any] = {}


def _bare_init() -> None:
    """Each bare-path process opens its own driver, as each API worker does."""
    settings = Neo4jSettings()
    _BARE["driver"], _BARE["db"] = create_driver(settings), settings.database


def _bare_chunk(ids: list[str], ws: str, threads: int) -> dict[str, Any]:
    """The two reads for these ids from `threads` threads; latencies, bad ids and CPU seconds used."""
    driver, db = _BARE["driver"], _BARE["db"]
    cpu = time.process_time()
    nxt = itertools.count()
    lats: list[list[float]] = [[] for _ in range(threads)]
    bad: list[str] = []

    def worker(w: int) -> None:
        while (i := next(nxt)) < len(ids):
            t = time.perf_counter()
            p, _, _ = driver.execute_query(PROFILE_BY_ID, id=ids[i], workspace=ws, database_=db,
                                           routing_=neo4j.RoutingControl.READ)
            e, _, _ = driver.execute_query(INTERACTIONS_PAGE, id=ids[i], workspace=ws, type=None, since=None,
                                           until=None, after_ts=None, after_key=None, limit=20, database_=db,
                                           routing_=neo4j.RoutingControl.READ)
            lats[w].append(time.perf_counter() - t)
            if not p or len(e[0]["rows"]) != 20:
                bad.append(ids[i])

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    return {"lat": [x for lt in lats for x in lt], "bad": bad, "cpu": time.process_time() - cpu}


def bare(pool: ProcessPoolExecutor, procs: int, ids: list[str], ws: str, concurrency: int) -> dict[str, Any]:
    """The same two reads through the driver at the same concurrency, spread over as many processes
    as the API has workers (one Python process would be GIL-bound), nothing else."""
    start = time.perf_counter()
    parts = list(pool.map(_bare_chunk, [ids[k::procs] for k in range(procs)], [ws] * procs,
                          [max(1, concurrency // procs)] * procs))
    out = _summary([x for p in parts for x in p["lat"]], time.perf_counter() - start, len(ids))
    bad = [b for p in parts for b in p["bad"]]
    if bad:
        raise SystemExit(f"bare read returned no profile / too few interactions for {bad[:3]}")
    out["child_cpu_s"] = sum(p["cpu"] for p in parts)
    return out


def count_audit(container: Any, ws: str) -> tuple[int, int]:
    """This workspace's audit records and the global chain head (others' appends show as the difference)."""
    rows, _, _ = container.driver.execute_query(COUNT_AUDIT, ws=ws, database_=container.neo4j.database,
                                                routing_=neo4j.RoutingControl.READ)
    return int(rows[0]["n"]), int(rows[0]["head"])


# --- diagnosis --------------------------------------------------------------------------------
def stage_breakdown(container: Any, ids: list[str], ws: str, key: str, n: int) -> dict[str, float]:
    """Median ms of each pipeline stage, in process, one read at a time (what a resolver calls)."""
    pl, auth = container.pipeline, container.auth
    stages: dict[str, list[float]] = {}

    def timed(name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        stages.setdefault(name, []).append((time.perf_counter() - t) * 1000)
        return out

    rng = random.Random(7)
    for _ in range(n):
        pid = rng.choice(ids)
        principal: Principal = timed("authn: api key lookup (Neo4j)", auth.authenticate_api_key, key)
        ctx = timed("authz: field permissions (casbin, once per request)", pl.context, principal, Purpose.support,
                    Channel.any)
        timed("authz: require (casbin)", pl.require, ctx, "profile", "read", subject=pid)
        prof, recs = timed("fetch: profile + identifiers + consents (Neo4j)", pl.profiles.get_with_consents,
                           workspace=ws, profile_id=pid)
        dec = timed("consent: gate decision", pl.gate, ctx, pid, recs)
        timed("masking", pl.mask, ctx, prof, dec)
        timed("fetch: 20 interactions (Neo4j)", pl.profiles.interactions_for_profiles, workspace=ws,
              profile_ids=[pid], event_type=None, since=None, until=None, limit=20)
        ev = AuditEvent.create(workspace=ws, actor=principal.id, actor_kind="api_key", role="support_agent",
                               action=AuditAction.READ, resource="profile", subject=pid, purpose="support",
                               reason="bench_stage", fields_returned=("traits.email",))
        timed("audit: append one record (x2 per request)", pl.audit.record, ev)
    return {k: statistics.median(v) for k, v in stages.items()}


def audit_ceiling(container: Any, ws: str, threads: int, n: int) -> dict[str, float]:
    """Appends/s of single-record audit appends from `threads` threads (the chain head lock)."""
    def one(_: int) -> None:
        container.audit.record(AuditEvent.create(
            workspace=ws, actor="key:bench", actor_kind="api_key", role="support_agent",
            action=AuditAction.READ, resource="profile", subject="bench", purpose="support",
            reason="bench_ceiling"))

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(n)))
    elapsed = time.perf_counter() - start
    return {"threads": threads, "appends": n, "appends_per_s": n / elapsed, "reads_per_s_bound": n / elapsed / 2}


# --- main -------------------------------------------------------------------------------------
def _server_errors(path: Path) -> dict[str, int]:
    """Distinct error events (and exception types) the server logged, with counts."""
    counts: dict[str, int] = {}
    for line in path.read_text(errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("level") not in ("error", "critical", "ERROR", "CRITICAL") and "exception" not in rec:
            continue
        exc = str(rec.get("exception", "")).strip().splitlines()
        first = str(rec.get("event", "")).split("\n", 1)[0]
        what = f"{first} | {rec.get('error') or (exc[-1] if exc else '')}"[:200]
        counts[what] = counts.get(what, 0) + 1
    if counts:
        print(f"server log: {path}", file=sys.stderr)
    else:
        path.unlink(missing_ok=True)
    return counts


def fingerprint() -> dict[str, str]:
    """sha256 (first 12 hex) and mtime of the files on the read path, as loaded for this run."""
    out = {}
    for rel in FINGERPRINT:
        f = ROOT / rel
        if f.exists():
            mtime = datetime.fromtimestamp(f.stat().st_mtime, UTC).isoformat(timespec="seconds")
            out[rel] = f"{hashlib.sha256(f.read_bytes()).hexdigest()[:12]} {mtime}"
    return out


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`veil serve` as a subprocess, stderr kept in a temp file for the failure report."""

    def __init__(self, port: int, workers: int) -> None:
        self.port = port or _free_port()
        if not _port_free(self.port):
            raise SystemExit(f"port {self.port} is taken (another server or bench run?); pass --port 0")
        # Closed in stop(); kept on failure so the errors can be read in full.
        self.log = tempfile.NamedTemporaryFile(prefix="veil-graphql-read-", suffix=".log", delete=False)  # noqa: SIM115
        # One API key drives the whole load: lift its rate limit (the bucket is still checked).
        env = {**os.environ, "VEIL_LOG_LEVEL": "WARNING", "VEIL_GRAPHQL_RATE_PER_SECOND": "1000000",
               "VEIL_GRAPHQL_RATE_BURST": "1000000"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(self.port), "--workers", str(workers)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self.log, start_new_session=True)

    def wait_ready(self) -> None:
        for _ in range(240):
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited with {self.proc.returncode}; log {self.log.name}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise SystemExit("server not ready after 60 s")

    def stop(self) -> dict[str, int]:
        """Stop it; the distinct errors it logged."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"server {self.proc.pid} did not stop in 30 s; killing its process group", file=sys.stderr)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # a worker that ignored SIGTERM
        self.proc.wait(timeout=30)
        self.log.close()
        return _server_errors(Path(self.log.name))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profiles", type=int, default=2000)
    ap.add_argument("--interactions", type=int, default=30, help="mean interactions per profile (at least 21)")
    ap.add_argument("--ingest-batch", type=int, default=500)
    ap.add_argument("--reads", type=int, default=3000, help="reads per round and path")
    ap.add_argument("--warmup", type=int, default=500, help="reads per path before the first round")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3, help="alternating GraphQL/bare rounds; medians reported")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    ap.add_argument("--client", choices=("threads", "async"), default="threads",
                    help="GraphQL load generator: 16 threads x httpx.Client, or one httpx.AsyncClient")
    ap.add_argument("--bare-procs", type=int, default=0,
                    help="processes for the bare path, concurrency split between them (default: --workers)")
    ap.add_argument("--no-diagnose", action="store_true", help="skip the stage breakdown and audit ceiling")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "graphql_read.json"))
    args = ap.parse_args()
    os.environ.setdefault("VEIL_NEO4J_URI", "bolt://127.0.0.1:7688")
    configure_logging("WARNING")  # the in-process audit appends would otherwise log every record
    container = build_container()
    apply_migrations(container.driver, database=container.neo4j.database)
    tag = uuid.uuid4().hex[:8]
    ws = f"gqlread-{tag}"

    events = make_events(args.profiles, args.interactions, seed=1, tag=tag)
    ids, ingest_s = ingest(container, events, ws, args.ingest_batch)
    print(f"ingested {len(events)} events -> {len(ids)} profiles in {ingest_s:.1f} s ({ws})", file=sys.stderr)
    key = container.auth.create_api_key(workspace=ws, role="support_agent", name="bench", actor="bench")[1]

    code = fingerprint()
    neo4j_pid = _listener_pid(urlparse(container.neo4j.uri).port or 7687)
    servers = {"graphql": Server(args.port, args.workers)}
    run_gql = graphql_async if args.client == "async" else graphql_threads
    fails = {name: Failures() for name in servers}
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in [*servers, "bare"]}
    server_errors: dict[str, dict[str, int]] = {}
    diagnosis: dict[str, Any] = {}
    bare_procs = args.bare_procs or args.workers
    bare_pool = ProcessPoolExecutor(bare_procs, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_bare_init)
    try:
        for srv in servers.values():
            srv.wait_ready()
        rng = random.Random(42)
        warm = [rng.choice(ids) for _ in range(args.warmup)]
        for srv in servers.values():
            run_gql(warm, srv.port, key, args.concurrency, Failures())
        bare(bare_pool, bare_procs, warm, ws, args.concurrency)
        for rnd in range(args.rounds):
            sample = [rng.choice(ids) for _ in range(args.reads)]
            line = []
            for name, srv in servers.items():
                meter = CpuMeter(srv.proc.pid, neo4j_pid)
                (n0, h0), failed_before = count_audit(container, ws), fails[name].count
                g = meter.measure(run_gql, sample, srv.port, key, args.concurrency, fails[name])
                n1, h1 = count_audit(container, ws)
                g["audit_records"] = n1 - n0
                # Audit appends by anyone else on this Neo4j meanwhile (e.g. a test run): noise.
                g["other_audit_appends"] = (h1 - h0) - (n1 - n0)
                g["failures"] = fails[name].count - failed_before
                rounds[name].append(g)
                line.append(f"{name} {g['reads_per_s']:.0f} r/s p50 {g['p50_ms']:.1f} p99 {g['p99_ms']:.1f} "
                            f"(failures {g['failures']}, others' audit appends {g['other_audit_appends']})")
            b = CpuMeter(None, neo4j_pid).measure(bare, bare_pool, bare_procs, sample, ws, args.concurrency)
            rounds["bare"].append(b)
            line.append(f"bare {b['reads_per_s']:.0f} r/s p50 {b['p50_ms']:.1f} p99 {b['p99_ms']:.1f}")
            print(f"round {rnd + 1}: " + "; ".join(line), file=sys.stderr)
    finally:
        bare_pool.shutdown()
        for name, srv in servers.items():
            server_errors[name] = srv.stop()
    try:
        if not args.no_diagnose:
            diagnosis["stages_ms_median"] = stage_breakdown(container, ids, ws, key, n=200)
            diagnosis["audit_ceiling"] = audit_ceiling(container, ws, args.concurrency, n=600)
    finally:
        container.close()

    keys = ("reads_per_s", "p50_ms", "p99_ms", "machine_busy")
    medians: dict[str, dict[str, Any]] = {}
    for p, rs in rounds.items():
        medians[p] = {k: statistics.median(r[k] for r in rs) for k in keys}
        medians[p]["cpu_ms_per_read"] = {c: statistics.median(r["cpu_ms_per_read"][c] for r in rs)
                                         for c in ("client", "api", "neo4j")}
    bq = medians["bare"]

    def overhead_of(p: str) -> dict[str, float]:
        return {"latency_p50": medians[p]["p50_ms"] / bq["p50_ms"], "latency_p99": medians[p]["p99_ms"] / bq["p99_ms"],
                "throughput": bq["reads_per_s"] / medians[p]["reads_per_s"]}

    overhead = {p: overhead_of(p) for p in servers}
    audit = {}
    for p in servers:
        recs, reads = sum(r["audit_records"] for r in rounds[p]), sum(r["reads"] for r in rounds[p])
        audit[p] = {"records": recs, "reads": reads, "per_read": recs / reads,
                    "other_clients_appends": sum(r["other_audit_appends"] for r in rounds[p])}
    gq, ov = medians["graphql"], overhead["graphql"]
    met = {"reads_per_s": gq["reads_per_s"] >= TARGETS["reads_per_s_min"],
           "p99_ms": gq["p99_ms"] <= TARGETS["p99_ms_max"],
           "overhead": max(ov["latency_p50"], ov["throughput"]) <= TARGETS["overhead_ratio_max"],
           "no_failed_reads": fails["graphql"].count == 0}
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, CPython {platform.python_version()}",
        "neo4j_uri": container.neo4j.uri,
        "params": vars(args), "code": code, "code_changed_during_run": fingerprint() != code, "workspace": ws, "events_ingested": len(events), "profiles": len(ids),
        "ingest_seconds": ingest_s,
        "load_generator": ("one httpx.AsyncClient, %d tasks on one event loop" if args.client == "async"
                           else "%d threads, one httpx.Client each") % args.concurrency,
        "bare_path": f"{bare_procs} processes x {max(1, args.concurrency // bare_procs)} threads, "
                     "driver.execute_query x2 (PROFILE_BY_ID, INTERACTIONS_PAGE)",
        "medians": medians, "overhead": overhead, "audit": audit,
        "failures": {p: {"count": f.count, "samples": f.samples, "server_errors": server_errors.get(p, {})}
                     for p, f in fails.items()},
        "targets": TARGETS, "met": met, "diagnosis": diagnosis, "rounds": rounds,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))

    print(f"\nGraphQL profile read (profile + identifiers + 20 interactions), {len(ids)} profiles, "
          f"concurrency {args.concurrency}, {args.workers} API workers, {args.reads} reads x {args.rounds} rounds "
          f"(medians); load: {result['load_generator']}")
    print(f"{'path':<22}{'reads/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'x p50':>7}{'x r/s':>7}{'failed':>8}{'busy':>6}"
          f"   CPU ms/read client/api/neo4j")
    for name in rounds:
        r, c = medians[name], medians[name]["cpu_ms_per_read"]
        o = overhead.get(name, {"latency_p50": 1.0, "throughput": 1.0})
        failed = fails[name].count if name in fails else 0
        print(f"{name:<22}{r['reads_per_s']:>9.0f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{o['latency_p50']:>7.1f}"
              f"{o['throughput']:>7.1f}{failed:>8}{r['machine_busy']:>6.0%}"
              f"   {c['client']:.1f} / {c['api']:.1f} / {c['neo4j']:.1f}")
    print(f"pipeline overhead (graphql vs bare): p50 latency x{ov['latency_p50']:.1f}, p99 x{ov['latency_p99']:.1f}, "
          f"throughput x{ov['throughput']:.1f}")
    print(f"audit records written: {audit['graphql']['records']} for {audit['graphql']['reads']} reads "
          f"({audit['graphql']['per_read']:.2f}/read; a failed read writes fewer); meanwhile other clients of this "
          f"Neo4j appended {audit['graphql']['other_clients_appends']} (noise)")
    print("targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in met.items())
          + f"  (>= {TARGETS['reads_per_s_min']} reads/s, p99 <= {TARGETS['p99_ms_max']} ms, "
          f"overhead <= {TARGETS['overhead_ratio_max']}x)")
    if diagnosis:
        print("\nin-process stage breakdown, one read at a time (median ms):")
        for k, v in diagnosis["stages_ms_median"].items():
            print(f"  {k:<52}{v:>7.2f}")
        a = diagnosis["audit_ceiling"]
        print(f"audit append ceiling, {a['threads']} threads: {a['appends_per_s']:.0f} appends/s "
              f"-> at 2 records/read at most {a['reads_per_s_bound']:.0f} reads/s")
    print(f"(written to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out})")
    failed = {p: f.count for p, f in fails.items() if f.count}
    if failed:
        for p in failed:
            print(f"FAILED ({p}): {fails[p].count} GraphQL reads failed, e.g. {fails[p].samples[:1]}; "
                  f"server errors: {server_errors.get(p)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
