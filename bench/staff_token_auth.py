"""What checking a staff token against the store costs per request.

Before, a staff JWT was trusted on its signature alone (roles read from the token). Now every
request also checks that the user exists and is enabled (cached per process for
VEIL_AUTH_USER_CACHE_SECONDS, default 1 s) and takes the roles from the policy (in memory,
version-checked every second). Measured here, in one process, median of --runs rounds of --n calls:

  signature only:   PyJWT decode of the token (what main did, the baseline)
  token, warm:      AuthService.authenticate_token, user lookup cached
  token, cold:      the same with user_cache_seconds=0 (one Neo4j read per request)
  api key, warm:    AuthService.authenticate_api_key, cached (for comparison)

Prints a table; writes bench/results/staff_token_auth.json. Needs a running Neo4j at
VEIL_NEO4J_URI (default the `make test` instance, bolt://127.0.0.1:7688).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("VEIL_NEO4J_URI", "bolt://127.0.0.1:7688")
os.environ.setdefault("VEIL_ENV", "test")

import jwt

from api.container import build_container
from api.settings import AppSettings


def median_us(fn: Callable[[], object], *, n: int, runs: int) -> float:
    """Median over `runs` rounds of the mean time of one call, in microseconds."""
    rounds = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    c = build_container(app=AppSettings(env="test"))
    try:
        ws = f"bench-{uuid.uuid4().hex[:12]}"
        user = f"bench-{uuid.uuid4().hex[:8]}"
        uid = c.auth.create_user(username=user, password="bench password 123")
        c.auth.assign_role(user_id=uid, role="support_agent", workspace=ws, actor="bench")
        token, _ = c.auth.login(username=user, password="bench password 123", workspace=ws)
        _, key = c.auth.create_api_key(workspace=ws, role="analyst", name="bench", actor="bench")
        secret = c.auth.settings.jwt_secret
        auth = c.auth
        rows: dict[str, float] = {}
        rows["signature only (baseline)"] = median_us(
            lambda: jwt.decode(token, secret, algorithms=["HS256"], issuer="veil"), n=args.n, runs=args.runs)
        rows["token, user cached"] = median_us(lambda: auth.authenticate_token(token), n=args.n, runs=args.runs)
        cached = auth.settings
        auth.settings = cached.model_copy(update={"user_cache_seconds": 0.0})
        rows["token, user read each time"] = median_us(lambda: auth.authenticate_token(token),
                                                       n=max(args.n // 5, 20), runs=args.runs)
        auth.settings = cached
        rows["api key, cached"] = median_us(lambda: auth.authenticate_api_key(key), n=args.n, runs=args.runs)
    finally:
        c.close()
    base = rows["signature only (baseline)"]
    print(f"{'check':<30} {'median µs/request':>18} {'vs baseline':>12}")
    for name, us in rows.items():
        print(f"{name:<30} {us:>18.1f} {us / base:>11.1f}x")
    out = ROOT / "bench" / "results" / "staff_token_auth.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "at": datetime.now(UTC).isoformat(), "machine": platform.platform(), "n": args.n, "runs": args.runs,
        "median_us": rows, "ratio_vs_signature_only": {k: v / base for k, v in rows.items()},
    }, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
