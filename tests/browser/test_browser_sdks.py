"""The real browser tracking libraries, in Debian's headless Chromium, on a page of another origin.

analytics.js (@segment/analytics-next) is loaded with Segment's official snippet whose CDN host
is Veil; RudderStack JS (@rudderstack/analytics-js, bundled build) is served by Veil and loads
its configuration from Veil's /sourceConfig. Both come from their npm packages
(deploy/web-sdk, `make web-sdk`); the page may reach only the two local servers, and any other
request fails the test. page -> identify -> track must land as one profile holding the cookie
(anonymous id), the user id and the UTM campaign.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from tests.conftest import cypher

API_PORT = int(os.environ.get("VEIL_BROWSER_API_PORT", "8011"))
PAGE_PORT = int(os.environ.get("VEIL_BROWSER_PAGE_PORT", "8111"))
API = f"http://127.0.0.1:{API_PORT}"
PAGE_ORIGIN = f"http://localhost:{PAGE_PORT}"  # another origin than the API: every call is cross-origin
CHROMIUM = os.environ.get("VEIL_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
UTM = "utm_source=newsletter&utm_medium=email&utm_campaign=spring-sale"

SEGMENT_PAGE = """<!doctype html><html><head><title>Shop</title>
<script>
  !function(){var i="analytics",analytics=window[i]=window[i]||[];if(!analytics.initialize)if(analytics.invoked)
  window.console&&console.error&&console.error("Segment snippet included twice.");else{analytics.invoked=!0;
  analytics.methods=["trackSubmit","trackClick","trackLink","trackForm","pageview","identify","reset","group",
  "track","ready","alias","debug","page","screen","once","off","on","addSourceMiddleware",
  "addIntegrationMiddleware","setAnonymousId","addDestinationMiddleware","register"];
  analytics.factory=function(e){return function(){if(window[i].initialized)return window[i][e].apply(window[i],
  arguments);var n=Array.prototype.slice.call(arguments);if(["track","screen","alias","group","page",
  "identify"].indexOf(e)>-1){var c=document.querySelector("link[rel='canonical']");n.push({__t:"bpc",
  c:c&&c.getAttribute("href")||void 0,p:location.pathname,u:location.href,s:location.search,t:document.title,
  r:document.referrer})}n.unshift(e);analytics.push(n);return analytics}};for(var n=0;n<analytics.methods.length;
  n++){var key=analytics.methods[n];analytics[key]=analytics.factory(key)}analytics.load=function(key,n){
  var t=document.createElement("script");t.type="text/javascript";t.async=!0;
  t.setAttribute("data-global-segment-analytics-key",i);
  t.src="__CDN__/analytics.js/v1/" + key + "/analytics.min.js";
  var r=document.getElementsByTagName("script")[0];r.parentNode.insertBefore(t,r);analytics._loadOptions=n};
  analytics._writeKey="__KEY__";analytics.SNIPPET_VERSION="5.2.1";
  analytics._cdn="__CDN__";  /* needed only over plain http: analytics.js derives its CDN from https URLs */
  analytics.load("__KEY__");
  analytics.page();
  }}();
</script></head><body>
<script>
  analytics.identify("__USER__", {email: "__EMAIL__", name: "Browser Buyer"});
  analytics.track("Order Completed", {order_id: "__ORDER__", revenue: 42, currency: "TWD",
                                      products: [{product_id: "milk-1", price: 42, quantity: 1}]});
</script></body></html>"""

RUDDER_PAGE = """<!doctype html><html><head><title>Shop</title>
<script src="__CDN__/web-sdk/rudderstack/rsa.min.js"></script>
<script>
  window.ra = new rudderanalytics.RudderAnalytics();
  ra.load("__KEY__", "__CDN__", {configUrl: "__CDN__", loadIntegration: false, logLevel: "ERROR",
                                  destSDKBaseURL: "__CDN__/web-sdk/rudderstack/destinations",
                                  pluginsSDKBaseURL: "__CDN__/web-sdk/rudderstack/plugins"});
  ra.page();
  ra.identify("__USER__", {email: "__EMAIL__", name: "Browser Buyer"});
  ra.track("Order Completed", {order_id: "__ORDER__", revenue: 42, currency: "TWD",
                               products: [{product_id: "milk-1", price: 42, quantity: 1}]});
</script></head><body></body></html>"""


def _wait_port(url: str, server: uvicorn.Server) -> None:
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, f"the API did not start on {url}"


@pytest.fixture(scope="module")
def api(container) -> Iterator[str]:
    """A real Veil API (uvicorn) on the browser tests' port."""
    from api.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=API_PORT,
                                           log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait_port(API, server)
    yield API
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> Iterator[Path]:
    """A static web server for the shop's pages, on another origin than the API."""
    root = tmp_path_factory.mktemp("pages")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", PAGE_PORT), functools.partial(Quiet, directory=root))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright (never Playwright's own browser download)."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def _run_page(browser: Any, pages: Path, name: str, html: str, *, done: str, anon: str = "() => null",
              timeout_s: float = 20) -> dict:
    """Open the page, allow only the two local servers, and wait until `done` (a JS expression) is true."""
    (pages / name).write_text(html, encoding="utf-8")
    ctx = browser.new_context()
    outside: list[str] = []
    failures: list[str] = []

    def gate(route: Any) -> None:
        host = urlsplit(route.request.url).netloc
        if host in (f"127.0.0.1:{API_PORT}", f"localhost:{PAGE_PORT}"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    ctx.route("**/*", gate)
    page = ctx.new_page()
    page.on("requestfailed", lambda r: failures.append(f"{r.method} {r.url}: {r.failure}"))
    posts: list[str] = []
    statuses: list[tuple[str, int]] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.on("response", lambda r: statuses.append((r.url, r.status)))
    page.goto(f"{PAGE_ORIGIN}/{name}?{UTM}")
    page.wait_for_function(done, timeout=timeout_s * 1000)
    state = page.evaluate("() => ({cookie: document.cookie, ls: JSON.stringify(localStorage)})")
    state["anonymous_id"] = page.evaluate(anon)
    ctx.close()
    assert not outside, f"the page tried to reach the internet: {outside}"
    return {"posts": posts, "statuses": statuses, "failures": failures, **state}


def _wait_for(container, workspace: str, user: str, n: int, timeout_s: float = 15) -> list[dict]:
    key = container.vault.identifier_key(workspace, "user_id", user)
    deadline = time.monotonic() + timeout_s
    rows: list = []
    while time.monotonic() < deadline:
        rows = cypher(container, "MATCH (:Identifier {key: $key})-[:IDENTIFIES]->(p:Profile)-[:PERFORMED]->(e) "
                                 "RETURN p.id AS profile, e.type AS type, e.utm_campaign AS campaign, "
                                 "e.event AS event, e.order_id AS order_id ORDER BY e.ts", key=key)
        if len(rows) >= n:
            break
        time.sleep(0.2)
    return [dict(r) for r in rows]


def _identifiers(container, profile: str) -> set[str]:
    rows = cypher(container, "MATCH (i:Identifier)-[:IDENTIFIES]->(:Profile {id: $id}) RETURN i.type AS t", id=profile)
    return {r["t"] for r in rows}


def _source(container, workspace: str, name: str) -> str:
    new = container.sources.create(workspace=workspace, name=name)
    container.sources.set_allowed_origins(source_id=new.source.id, origins=[PAGE_ORIGIN])
    return new.write_key


def _fill(template: str, **values: str) -> str:
    for k, v in values.items():
        template = template.replace(f"__{k}__", v)
    return template


def _assert_one_profile(container, workspace: str, user: str, order: str, out: dict) -> None:
    """page, identify and track on one profile holding the browser's anonymous id, user id and e-mail,
    every event with the page's UTM campaign; no request answered with an error."""
    rows = _wait_for(container, workspace, user, 3)
    assert {r["type"] for r in rows} == {"page", "identify", "track"}, (rows, out)
    assert len({r["profile"] for r in rows}) == 1
    assert all(r["campaign"] == "spring-sale" for r in rows), rows
    assert [r["order_id"] for r in rows if r["type"] == "track"] == [order]
    assert _identifiers(container, rows[0]["profile"]) >= {"user_id", "anonymous_id", "email"}
    assert out["anonymous_id"], out
    anon_key = container.vault.identifier_key(workspace, "anonymous_id", out["anonymous_id"])
    owner = cypher(container, "MATCH (:Identifier {key: $k})-[:IDENTIFIES]->(p) RETURN p.id AS id", k=anon_key)
    assert [r["id"] for r in owner] == [rows[0]["profile"]], "the browser's anonymous id is on the same profile"
    assert not [s for s in out["statuses"] if s[1] >= 400], out


def test_segment_analytics_js_self_hosted_snippet(container, api, pages, browser, workspace):
    key = _source(container, workspace, "web-segment")
    user, order = f"web-{uuid.uuid4().hex[:8]}", f"o-{uuid.uuid4().hex[:8]}"
    out = _run_page(browser, pages, "segment.html",
                    _fill(SEGMENT_PAGE, CDN=api, KEY=key, USER=user, EMAIL=f"{user}@example.com", ORDER=order),
                    done="() => window.analytics && window.analytics.initialized && "
                         "performance.getEntriesByType('resource').filter(e => e.name.includes('/v1/t')).length > 0",
                    anon="() => window.analytics.user().anonymousId()")
    _assert_one_profile(container, workspace, user, order, out)
    # analytics.js posts to Segment's short paths, with text/plain bodies, preflighted by CORS.
    assert {u.rsplit("/", 1)[-1] for u in out["posts"]} >= {"p", "i", "t"}, out
    assert f"ajs_anonymous_id={out['anonymous_id']}" in out["cookie"], out["cookie"]


def test_rudderstack_js_with_veil_source_config(container, api, pages, browser, workspace):
    key = _source(container, workspace, "web-rudder")
    user, order = f"rs-{uuid.uuid4().hex[:8]}", f"o-{uuid.uuid4().hex[:8]}"
    out = _run_page(browser, pages, "rudder.html",
                    _fill(RUDDER_PAGE, CDN=api, KEY=key, USER=user, EMAIL=f"{user}@example.com", ORDER=order),
                    done="() => performance.getEntriesByType('resource')"
                         ".filter(e => e.name.includes('/v1/track')).length > 0",
                    anon="() => window.ra.getAnonymousId()")
    _assert_one_profile(container, workspace, user, order, out)
    assert {u.rsplit("/", 1)[-1] for u in out["posts"]} >= {"page", "identify", "track"}, out
    assert "rl_anonymous_id" in out["cookie"]


def test_page_on_an_origin_not_allowed_delivers_nothing(container, api, pages, browser, workspace):
    new = container.sources.create(workspace=workspace, name="web-closed")  # no allowed origin
    user = f"closed-{uuid.uuid4().hex[:8]}"
    out = _run_page(browser, pages, "closed.html",
                    _fill(RUDDER_PAGE, CDN=api, KEY=new.write_key, USER=user, EMAIL=f"{user}@example.com",
                          ORDER="o-closed"),
                    done="() => performance.getEntriesByType('resource')"
                         ".filter(e => e.name.includes('/v1/')).length > 0")
    time.sleep(1.0)
    assert _wait_for(container, workspace, user, 1, timeout_s=1) == []
    assert out["posts"], "the library tried to send"
    assert not [s for s in out["statuses"] if "/v1/" in s[0] and s[1] == 200], out
