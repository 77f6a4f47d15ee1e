"""FastAPI application factory: collection API, health, readiness and metrics."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from analytics.scheduler import Scheduler, model_jobs
from api import log_metrics, metrics
from api.collection import beacon_router
from api.collection import router as collection_router
from api.container import Container, build_container
from api.cors import CollectorCors
from api.errors import api_error_handler, error_body
from api.graphql.context import context_getter
from api.graphql.http import (
    GraphQLGate,
    RateLimited,
    RateLimiter,
    VeilGraphQLRouter,
    rate_limited_context,
    veil_error_response,
)
from api.graphql.schema import build_schema
from api.logs import configure_logging, request_id_var
from api.settings import AppSettings
from api.web_sdk import router as web_sdk_router
from audit.events import request_id_var as audit_request_id_var
from console.mount import mount_console
from core.errors import VeilError
from graph.migrations import LATEST_VERSION

log = structlog.get_logger("veil.api")


class RequestContext:
    """Request id (header or new), metrics and a log line for errors and slow requests.

    A plain ASGI middleware: Starlette's BaseHTTPMiddleware cost about 8% of the API's CPU on
    a GraphQL read.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                rid = value.decode("latin-1")[:64]
                break
        rid = rid or uuid.uuid4().hex
        token = request_id_var.set(rid)
        audit_token = audit_request_id_var.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
            audit_request_id_var.reset(audit_token)
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None)
            path = route or "unmatched"
            method = scope.get("method", "")
            metrics.HTTP_REQUESTS.labels(method, path, str(status)).inc()
            metrics.HTTP_SECONDS.labels(path).observe(elapsed)
            if status >= 400 or elapsed > 1.0:
                # An unmatched request is logged with the path asked for (bounded), so it can be seen.
                asked = {} if route else {"asked": str(scope.get("path", ""))[:300]}
                log.info("request", method=method, path=path, status=status, ms=round(elapsed * 1000, 1),
                         request_id=rid, **asked)


def _start_scheduler(c: Container) -> Scheduler | None:
    """Periodic model refresh, segment sweeps and identity matching, when an interval is set (off by default)."""
    from api.identity_wiring import identity_jobs

    s = c.analytics_settings
    jobs = model_jobs(analytics=c.analytics, segments=c.segments, refresh_interval=s.refresh_interval_seconds,
                      sweep_interval=s.sweep_interval_seconds, workspaces=c.analytics.repo.workspaces)
    jobs += identity_jobs(c)
    if not any(j.interval > 0 for j in jobs):
        return None
    scheduler = Scheduler(jobs, leases=c.leases())
    scheduler.start()
    log.info("scheduler_started", jobs=[j.name for j in scheduler.jobs])
    return scheduler


def create_app(container: Container | None = None) -> FastAPI:
    """Build the ASGI app; a container can be injected (tests), else it is built from the environment."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = container is None
        app.state.container = container or build_container()
        configure_logging(app.state.container.app.log_level)
        c = app.state.container
        if c.collect.coalesce and c.ingest.coalescer is None:
            from collect.coalesce import Coalescer

            c.ingest.coalescer = Coalescer(c.ingest.write, max_events=c.collect.coalesce_max_events)
        scheduler = _start_scheduler(c)
        if c.durable is not None and c.durable.settings.drain_in_api:  # one drainer per log file
            c.durable.start()
        log_metrics.attach(c.durable)
        log.info("startup", neo4j=app.state.container.neo4j.uri, env=app.state.container.app.env)
        yield
        if scheduler is not None:
            scheduler.stop()
        if owned:
            app.state.container.close()

    app = FastAPI(title="Veil", version="0.1.0", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.add_exception_handler(VeilError, api_error_handler)  # ApiError and every domain error

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        return JSONResponse(error_body("invalid_request", str(first.get("msg", "invalid request")),
                                       field=".".join(str(p) for p in first.get("loc", []))), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Unknown paths and methods answer in Veil's error format, naming what was asked.
        path = request.url.path[:300]
        if exc.status_code == 404:
            code, message = "not_found", f"no route for {request.method} {path}"
        elif exc.status_code == 405:
            code, message = "method_not_allowed", f"{request.method} is not allowed on {path}"
        else:
            code, message = f"http_{exc.status_code}", str(exc.detail)
        return JSONResponse(error_body(code, message), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", error=type(exc).__name__)
        return JSONResponse(error_body("internal_error", "internal error; quote the request id"), status_code=500)

    settings = container.app if container is not None else AppSettings()
    app.add_exception_handler(RateLimited, veil_error_response)
    app.add_middleware(GraphQLGate, max_body_bytes=settings.graphql_max_body_bytes)
    app.add_middleware(CollectorCors)
    app.add_middleware(RequestContext)  # outermost: the gate's refusals carry the request id too

    app.include_router(collection_router)
    app.include_router(beacon_router)
    app.include_router(web_sdk_router)
    app.include_router(__import__("api.activation_http", fromlist=["x"]).router)
    schema = build_schema(introspection=settings.graphql_introspection, max_depth=settings.graphql_max_depth,
                          max_aliases=settings.graphql_max_aliases, max_tokens=settings.graphql_max_tokens,
                          max_cost=settings.graphql_max_cost)
    limiter = RateLimiter(rate=settings.graphql_rate_per_second, burst=settings.graphql_rate_burst,
                          anonymous_rate=settings.graphql_anonymous_rate_per_second,
                          anonymous_burst=settings.graphql_anonymous_rate_burst)
    app.include_router(VeilGraphQLRouter(schema, path="/graphql",
                                         context_getter=rate_limited_context(context_getter, limiter),
                                         graphql_ide="graphiql" if settings.graphiql else None,
                                         allow_queries_via_get=False), prefix="")

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz(request: Request) -> JSONResponse:
        """Readiness: Neo4j reachable and the schema at the latest version."""
        c: Container = request.app.state.container
        reachable = await run_in_threadpool(c.ping)
        version = None
        if reachable:
            try:
                version = await run_in_threadpool(c.schema_version)
            except Exception:  # noqa: BLE001
                version = None
        ok = reachable and version == LATEST_VERSION
        body = {"status": "ready" if ok else "not_ready", "neo4j": "reachable" if reachable else "unreachable",
                "schema_version": version, "schema_expected": LATEST_VERSION}
        if c.durable is not None:
            body["log"] = await run_in_threadpool(log_metrics.ready_block, c.durable)
            if not reachable and body["log"]["pending_events"] < body["log"]["high_water_events"]:
                # Collection still acknowledges into the log: stay in the load balancer's rotation.
                body["status"] = "degraded"
                return JSONResponse(body, status_code=200)
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"])
    async def prometheus() -> Response:
        """Prometheus exposition."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    mount_console(app)
    return app
