"""Through the public interfaces: GraphQL (journeys, publish permission, rounds, ledger, results),
the one-click unsubscribe endpoint, the LINE webhook and inbound SMS STOP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

from consent.gate import decide
from consent.model import Channel, Purpose
from tests.activation.conftest import SMS_INBOUND_TOKEN, person, track
from tests.api.test_graphql import codes, gql, key

CREATE = 'mutation($t: String) { createJourney(template: $t) { id status latestVersion definition } }'
PUBLISH = 'mutation($id: String!) { publishJourney(id: $id) { id status publishedVersion } }'
RUN = "mutation { runJourneys { entered planned outcomes } }"
SENDS = 'query($j: String) { sends(journeyId: $j) { key channel state reason profileId } }'
RESULTS = 'query($j: String) { sendResults(journeyId: $j) { channel state reason count } }'
SIGNUP = {"name": "welcome", "entry": {"kind": "event", "event": "Signed Up"}, "steps": [
    {"id": "hello", "type": "send", "channel": "email", "subject": "Hi {{first_name}}", "body": "Welcome"}]}


def _gate(container, workspace, pid, channel):
    records = container.admin.consents.for_subject(workspace=workspace, profile_id=pid)
    return decide(purpose=Purpose.marketing, channel=Channel(channel), jurisdiction=container.pipeline.jurisdiction,
                  records=records, policy=container.pipeline.consent_policy, now=datetime.now(UTC))


def test_journeys_over_graphql_with_publish_permission_and_results(client, container, workspace, served, sinks):
    store = sinks[0]
    marketer, admin, support = (key(container, workspace, r) for r in ("marketer", "admin", "support_agent"))
    templates = gql(client, "{ journeyTemplates { template name } }", token=marketer, purpose="marketing").json()
    assert len(templates["data"]["journeyTemplates"]) >= 12
    created = gql(client, 'mutation($d: JSON) { createJourney(definition: $d) { id status } }', token=marketer,
                  purpose="marketing", variables={"d": SIGNUP}).json()["data"]["createJourney"]
    assert created["status"] == "draft"
    # Publishing is its own permission: marketers may write journeys, not publish them.
    assert codes(gql(client, PUBLISH, token=marketer, purpose="marketing", variables={"id": created["id"]})) == [
        "FORBIDDEN"]
    assert codes(gql(client, "{ journeys { id } }", token=support, purpose="marketing")) == ["FORBIDDEN"]
    pub = gql(client, PUBLISH, token=admin, purpose="marketing", variables={"id": created["id"]}).json()
    assert pub["data"]["publishJourney"] == {"id": created["id"], "status": "active", "publishedVersion": 1}
    bad = gql(client, 'mutation($d: JSON) { createJourney(definition: $d) { id } }', token=marketer,
              purpose="marketing", variables={"d": {**SIGNUP, "steps": [{"id": "x", "type": "wait"}]}}).json()
    assert bad["errors"][0]["extensions"]["code"] == "BAD_REQUEST" and "definition.steps" in bad["errors"][0]["message"]

    pid = person(container, workspace, "gq", email="gq@example.com", traits={"first_name": "Gina"})
    track(container, workspace, "gq", "Signed Up", datetime.now(UTC))
    ran = gql(client, RUN, token=admin, purpose="marketing").json()["data"]["runJourneys"]
    assert ran == {"entered": 1, "planned": 1, "outcomes": {"accepted": 1}}
    assert [m["subject"] for m in store.of("email")] == ["Hi Gina"]
    sends = gql(client, SENDS, token=marketer, purpose="marketing", variables={"j": created["id"]}).json()
    assert [(s["channel"], s["state"], s["profileId"]) for s in sends["data"]["sends"]] == [
        ("email", "accepted", pid)]
    results = gql(client, RESULTS, token=marketer, purpose="marketing", variables={"j": created["id"]}).json()
    assert results["data"]["sendResults"] == [{"channel": "email", "state": "accepted", "reason": "accepted",
                                               "count": 1}]
    assert "gq@example.com" not in json.dumps(sends) + json.dumps(results)


def test_one_click_unsubscribe_withdraws_email_consent(client, container, workspace, served, sinks):
    store = sinks[0]
    j = served.create(served.pipeline.context(_admin(workspace), Purpose.marketing), definition=SIGNUP)
    served.publish(served.pipeline.context(_admin(workspace), Purpose.marketing), journey_id=j.id)
    pid = person(container, workspace, "un", email="un@example.com")
    track(container, workspace, "un", "Signed Up", datetime.now(UTC))
    served.worker(workspace).tick()
    [mail] = store.of("email")
    path = mail["list_unsubscribe"].strip("<>").split("8013", 1)[1]
    assert client.get(path).status_code == 200  # a GET (a link scanner) changes nothing
    assert _gate(container, workspace, pid, "email").allowed
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    r = client.post(tampered, content="List-Unsubscribe=One-Click")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_unsubscribe"
    r = client.post(path, content="List-Unsubscribe=One-Click",
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200
    d = _gate(container, workspace, pid, "email")
    assert (d.allowed, d.reason) == (False, "consent_withdrawn")
    assert _gate(container, workspace, pid, "line").allowed  # only the e-mail channel was refused


def test_line_unfollow_and_sms_stop_withdraw_consent(client, container, workspace, served):
    line_id = "U" + "cd" * 16
    pid = person(container, workspace, "ln", line=line_id, phone="0912-000-111")
    body = json.dumps({"destination": "Uxxx", "events": [
        {"type": "unfollow", "source": {"type": "user", "userId": line_id}, "timestamp": 1}]}).encode()
    secret = served.settings.line_channel_secret.get_secret_value()
    sig = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    url = f"/v1/activation/line/webhook/{workspace}"
    r = client.post(url, content=body, headers={"x-line-signature": "bad" + sig})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_signature"
    assert _gate(container, workspace, pid, "line").allowed
    r = client.post(url, content=body, headers={"x-line-signature": sig})
    assert r.status_code == 200 and r.json()["unfollow"] == 1
    assert _gate(container, workspace, pid, "line").reason == "consent_withdrawn"

    sms_url = f"/v1/activation/sms/inbound/{workspace}"
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert client.post(sms_url + "?token=wrong", content="from=0912000111&text=STOP", headers=form).status_code == 401
    r = client.post(sms_url + f"?token={SMS_INBOUND_TOKEN}", content="from=0912000111&text=hello", headers=form)
    assert r.json()["stopped"] is False and _gate(container, workspace, pid, "sms").allowed
    r = client.post(sms_url + f"?token={SMS_INBOUND_TOKEN}", content="from=0912000111&text=%E9%80%80%E8%A8%82",
                    headers=form)
    assert r.status_code == 200 and r.json()["stopped"] is True
    assert _gate(container, workspace, pid, "sms").reason == "consent_withdrawn"
    assert client.post(sms_url + f"?token={SMS_INBOUND_TOKEN}", content="text=STOP",
                       headers=form).json()["error"]["field"] == "from"


def _admin(workspace):
    from access.principal import Principal, PrincipalKind

    return Principal(id="user:adm", kind=PrincipalKind.USER, workspace=workspace, roles=("admin",))
