"""What websites and SDKs need from the collector: CORS per source, Segment's short paths,
text/plain bodies, the write key in the body or query, SDK-readable errors, readable 404s,
the self-hosted snippet's documents and the OpenAPI description."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from typer.testing import CliRunner

from tests.conftest import basic, cypher

SHOP = "https://shop.example"


@pytest.fixture()
def web_source(container, workspace):
    new = container.sources.create(workspace=workspace, name="web")
    container.sources.set_allowed_origins(source_id=new.source.id, origins=[SHOP, "https://*.brand.example"])
    return new


def _preflight(client, path: str, origin: str, headers: str = "authorization,content-type"):
    return client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                         "Access-Control-Request-Headers": headers})


def test_preflight_is_answered_for_an_allowed_origin_only(client, web_source):
    r = _preflight(client, "/v1/t", SHOP, "authorization,content-type,anonymousid,sentat")
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == SHOP
    allowed = {h.strip() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "anonymousid", "sentat"} <= allowed
    assert "POST" in r.headers["access-control-allow-methods"]
    assert _preflight(client, "/v1/batch", "https://eu.brand.example").status_code == 204
    r = _preflight(client, "/v1/t", f"https://evil-{uuid.uuid4().hex[:6]}.example")
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    assert r.json()["code"] == "origin_not_allowed"


def test_browser_request_is_checked_against_its_own_source(container, client, workspace, web_source):
    other = container.sources.create(workspace=workspace, name="app")  # allows no browser origin
    event = {"userId": "cors-1", "event": "Viewed"}
    r = client.post("/v1/t", content=json.dumps(event), headers={
        **basic(web_source.write_key), "Origin": SHOP, "Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == SHOP
    assert "Retry-After" in r.headers["access-control-expose-headers"]
    r = client.post("/v1/t", json=event, headers={**basic(other.write_key), "Origin": SHOP})
    assert r.status_code == 403 and r.json()["code"] == "origin_not_allowed"
    # Server SDKs send no Origin: unaffected.
    assert client.post("/v1/t", json=event, headers=basic(other.write_key)).status_code == 200


def test_any_origin_only_when_the_admin_says_so(container, client, workspace):
    src = container.sources.create(workspace=workspace, name="open")
    origin = f"https://anything-{uuid.uuid4().hex[:6]}.example"
    event = {"userId": "any-1", "event": "Viewed"}
    assert client.post("/v1/t", json=event, headers={**basic(src.write_key), "Origin": origin}).status_code == 403
    container.sources.set_allowed_origins(source_id=src.source.id, origins=["*"])
    try:
        r = client.post("/v1/t", json=event, headers={**basic(src.write_key), "Origin": origin})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == origin
    finally:  # '*' would open every preflight on the shared test server
        container.sources.set_allowed_origins(source_id=src.source.id, origins=[])


@pytest.mark.parametrize("bad", ["shop.example", "https://shop.example/path", "ftp://x.example", "https://a b"])
def test_invalid_origins_are_refused(container, web_source, bad):
    from collect.origins import OriginError

    with pytest.raises(OriginError) as err:
        container.sources.set_allowed_origins(source_id=web_source.source.id, origins=[bad])
    assert err.value.code == "invalid_origin"


@pytest.mark.parametrize(("short", "kind"), [("i", "identify"), ("t", "track"), ("p", "page"), ("s", "screen"),
                                             ("g", "group"), ("a", "alias")])
def test_segment_short_paths_with_text_plain_and_write_key_in_body(container, client, workspace, write_key,
                                                                   short, kind):
    mid = f"short-{short}-{uuid.uuid4().hex[:8]}"
    event = {"userId": "short-user", "event": "Clicked", "name": "Home", "groupId": "g1", "previousId": "anon-x",
             "messageId": mid, "writeKey": write_key}
    r = client.post(f"/v1/{short}", content=json.dumps(event), headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    rows = cypher(container, "MATCH (e:Interaction {message_id: $m, workspace: $w}) RETURN e.type AS t",
                  m=mid, w=workspace)
    assert [row["t"] for row in rows] == [kind]


def test_short_batch_path_and_beacon_with_query_key(container, client, workspace, write_key):
    batch = {"batch": [{"type": "track", "anonymousId": "b-1", "event": "A", "messageId": f"b-{uuid.uuid4()}"}],
             "writeKey": write_key}
    assert client.post("/v1/b", content=json.dumps(batch), headers={"Content-Type": "text/plain"}).json()["stored"] == 1
    beacon = {"batch": [{"type": "page", "anonymousId": "b-1", "messageId": f"b-{uuid.uuid4()}"}]}
    r = client.post(f"/beacon/v1/batch?writeKey={write_key}", content=json.dumps(beacon),
                    headers={"Content-Type": "text/plain"})
    assert r.status_code == 200 and r.json()["stored"] == 1


def test_error_bodies_carry_top_level_code_and_message(client):
    r = client.post("/v1/batch", json={"batch": [{"type": "track", "userId": "u", "event": "x"}]},
                    headers=basic("vwk_nope"))
    body = r.json()
    assert r.status_code == 401
    assert body["code"] == body["error"]["code"] == "invalid_write_key"
    assert body["message"] == body["error"]["message"] and body["success"] is False


def test_rudder_python_sdk_reads_the_error_and_stops(live_server):
    """rudder-sdk-python reads a top-level `code`; with it, a bad key is a final 401, not a network error."""
    from rudderstack.analytics.client import Client
    from rudderstack.analytics.request import APIError

    errors: list[Exception] = []
    client = Client("vwk_bad-key", host=live_server, sync_mode=True, max_retries=0,
                    on_error=lambda exc, _batch: errors.append(exc))
    try:
        client.track("u-rudder", "Viewed")
    except APIError as exc:
        errors.append(exc)
    assert errors and isinstance(errors[0], APIError), errors
    assert (errors[0].status, errors[0].code) == (401, "invalid_write_key")


def test_unknown_path_answers_in_veil_format_and_logs_the_path(client, caplog):
    with caplog.at_level(logging.INFO):
        r = client.post("/v1/nothing-here", json={})
    assert r.status_code == 404
    assert r.json()["code"] == "not_found" and "/v1/nothing-here" in r.json()["message"]
    assert client.get("/v1/batch").json()["code"] == "method_not_allowed"


def test_unmatched_request_log_names_the_path(client, capsys):
    client.post("/v1/zzz-unknown", json={})
    err = capsys.readouterr()
    assert "/v1/zzz-unknown" in err.out + err.err


def test_self_hosted_segment_documents(client, web_source):
    key = web_source.write_key
    s = client.get(f"/v1/projects/{key}/settings", headers={"Origin": SHOP}).json()
    seg = s["integrations"]["Segment.io"]
    assert seg["apiKey"] == key and seg["apiHost"] == "testserver/v1" and s["metrics"]["sampleRate"] == 0
    js = client.get(f"/analytics.js/v1/{key}/analytics.min.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"] and len(js.content) > 50_000
    assert client.get("/v1/projects/vwk_unknown/settings").status_code == 404
    assert client.get("/analytics-next/bundles/..%2F..%2Fpackage.json").status_code == 404


def test_rudderstack_source_config(client, web_source):
    r = client.get("/sourceConfig/?p=npm&v=3.34.1", headers=basic(web_source.write_key))
    assert r.status_code == 200
    src = r.json()["source"]
    assert src["enabled"] is True and src["id"] == web_source.source.id and src["destinations"] == []
    assert client.get("/sourceConfig", headers=basic("vwk_nope")).status_code == 404
    assert client.get("/web-sdk/rudderstack/rsa.min.js").status_code == 200


def test_openapi_documents_bodies_and_error_statuses(client):
    spec = client.get("/openapi.json").json()
    for path in ("/v1/batch", "/v1/b", "/v1/track", "/v1/t", "/v1/identify", "/v1/i", "/v1/p"):
        op = spec["paths"][path]["post"]
        content = op["requestBody"]["content"]
        assert {"application/json", "text/plain"} <= set(content), path
        assert {"200", "400", "401", "403", "429", "503"} <= set(op["responses"]), path
    batch = spec["paths"]["/v1/batch"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "batch" in batch["properties"] and "$defs" not in json.dumps(batch)
    error = spec["components"]["schemas"]["ErrorBody"]
    assert {"code", "message", "error"} <= set(error["properties"])


def test_cli_sets_and_shows_origins(container, web_source, monkeypatch):
    from api.cli import app

    monkeypatch.setenv("VEIL_DEFAULT_WORKSPACE", web_source.source.workspace)
    runner = CliRunner()
    r = runner.invoke(app, ["sources", "origins", web_source.source.id, "--allow", "https://Shop2.example/"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["allowed_origins"] == ["https://shop2.example"]
    r = runner.invoke(app, ["sources", "origins", web_source.source.id])
    assert json.loads(r.stdout)["allowed_origins"] == ["https://shop2.example"]
    r = runner.invoke(app, ["sources", "origins", web_source.source.id, "--allow", "not an origin"])
    assert r.exit_code == 2 and "invalid_origin" in r.output
    r = runner.invoke(app, ["sources", "origins", "src_missing", "--allow", "https://a.example"])
    assert r.exit_code == 1 and "no source" in r.output
