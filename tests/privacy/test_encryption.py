"""Field encryption at rest and blind indexes: units, then the raw store read from outside."""

from __future__ import annotations

import json
import os
from unittest import mock

import pytest
from cryptography.exceptions import InvalidTag
from typer.testing import CliRunner

from api.cli import app
from collect import resolution
from privacy.keys import KeyMaterialError, LocalKeyProvider, SqliteKeyStore
from privacy.vault import FieldVault, is_sealed
from tests.conftest import basic, cypher

PLAIN = {
    "email": "mei.lin@example.com", "phone_e164": "+886912345678", "phone_digits": "912345678",
    "name": "林美玲", "national_id": "A123456789", "address": "台北市信義區松仁路100號",
    "birthday": "1990-01-02", "line": "U0123456789abcdef0123456789abcdef", "ip": "203.0.113.77",
    "note": "call me on 0922000111", "loyalty": "LOYAL-7788-ZX", "prop_email": "alt.mail@example.org",
}


def vault(tmp_path, *, kek: bytes | None = None, blind: bytes = b"b" * 32) -> FieldVault:
    return FieldVault(provider=LocalKeyProvider(kek or b"k" * 32), store=SqliteKeyStore(tmp_path / "keys.db"),
                      blind_key=blind)


def test_seal_open_round_trip_and_shredding(tmp_path):
    v = vault(tmp_path)
    v.prepare("ws", ["p1", "p2"], create=True)
    a, b = v.seal("p1", "amy@example.com"), v.seal("p1", "amy@example.com")
    assert is_sealed(a) and a != b and "amy" not in a  # randomised nonce: equal values differ
    assert v.open(a) == "amy@example.com" and v.open(["x", 1]) == ["x", 1]
    assert v.open(v.seal("p2", ["a", "b"])) == ["a", "b"]
    # Another value's key id cannot be swapped in (the key id is authenticated).
    forged = a.replace("enc1:p1:", "enc1:p2:")
    assert v.open(forged) is None
    wrapped = SqliteKeyStore(tmp_path / "keys.db").get_many(["p1"])["p1"].wrapped
    assert v.shred(["p1"]) == 1
    assert v.open(a) is None
    # The wrapped key's bytes are gone from the store's files, not just unlinked.
    for f in tmp_path.glob("keys.db*"):
        assert wrapped not in f.read_bytes(), f
    # A fresh process (empty cache) cannot open it either: the key is gone from the store.
    assert vault(tmp_path).open(a) is None


def test_data_keys_are_wrapped_by_the_kek(tmp_path):
    v = vault(tmp_path, kek=b"1" * 32)
    v.prepare("ws", ["p1"], create=True)
    sealed = v.seal("p1", "secret")
    row = SqliteKeyStore(tmp_path / "keys.db").get_many(["p1"])["p1"]
    with pytest.raises(InvalidTag):
        LocalKeyProvider(b"2" * 32).unwrap(row.wrapped, key_id="p1")
    assert vault(tmp_path, kek=b"1" * 32).open(sealed) == "secret"


def test_blind_index_is_keyed_and_scoped(tmp_path):
    v, other = vault(tmp_path), vault(tmp_path, blind=b"c" * 32)
    k = v.identifier_key("ws", "email", "amy@example.com")
    assert k.startswith("ws|email|~") and "amy" not in k
    assert k == v.identifier_key("ws", "email", "amy@example.com")
    assert k != other.identifier_key("ws", "email", "amy@example.com")
    assert k.split("|")[2] != v.identifier_key("ws2", "email", "amy@example.com").split("|")[2]
    assert v.identifier_key("ws", "user_id", "u-1") == "ws|user_id|u-1"  # non-PII types stay plain
    assert "|~" in v.identifier_key("ws", "loyalty_card", "X1")  # custom types count as contact data


def _ingest_pii(client, write_key):
    batch = [
        {"type": "page", "anonymousId": "anon-enc-1", "messageId": "e1", "timestamp": "2026-10-01T00:00:00Z",
         "context": {"ip": PLAIN["ip"], "page": {"url": f"https://shop.example/?email={PLAIN['email']}"}}},
        {"type": "identify", "anonymousId": "anon-enc-1", "messageId": "e2", "timestamp": "2026-10-01T00:01:00Z",
         "traits": {"email": PLAIN["email"], "phone": "0912-345-678", "name": PLAIN["name"],
                    "national_id": PLAIN["national_id"], "address": PLAIN["address"],
                    "birthday": PLAIN["birthday"], "line_user_id": PLAIN["line"], "notes": PLAIN["note"],
                    "member_tier": "gold"},
         "context": {"ip": PLAIN["ip"], "externalIds": [{"type": "loyalty_card", "id": PLAIN["loyalty"]}]}},
        {"type": "track", "userId": "enc-u1", "anonymousId": "anon-enc-1", "event": "Signed Up", "messageId": "e3",
         "timestamp": "2026-10-01T00:02:00Z", "properties": {"contact": PLAIN["prop_email"]},
         "context": {"traits": {"phone": "0912-345-678"}}},
        # A second cookie with the same phone: stitched by phone (and a merge records loser traits).
        {"type": "identify", "anonymousId": "anon-enc-2", "messageId": "e4", "timestamp": "2026-10-01T00:03:00Z",
         "traits": {"name": PLAIN["name"], "address": PLAIN["address"]}},
        {"type": "identify", "anonymousId": "anon-enc-2", "messageId": "e5", "timestamp": "2026-10-01T00:04:00Z",
         "traits": {"phone": "+886 912 345 678"}},
    ]
    r = client.post("/v1/batch", json={"batch": batch}, headers=basic(write_key))
    assert r.status_code == 200 and r.json()["stored"] == 5, r.text
    return r.json()


def _raw_dump(container, workspace) -> list[str]:
    """Every property of every node and relationship touching the workspace, as text."""
    rows = cypher(container, """
        MATCH (n) WHERE n.workspace = $w OR n.key STARTS WITH $w + '|'
        OPTIONAL MATCH (n)-[r]-()
        RETURN properties(n) AS n, collect(properties(r)) AS rels""", w=workspace)
    out = []
    for row in rows:
        out += [f"{k}={v}" for k, v in row["n"].items()]
        out += [f"{k}={v}" for rel in row["rels"] for k, v in rel.items()]
    return out


def test_no_plaintext_pii_in_the_raw_store(container, client, workspace, write_key):
    _ingest_pii(client, write_key)
    dump = _raw_dump(container, workspace)
    assert len(dump) > 50
    leaks = [(name, line) for name, text in PLAIN.items() for line in dump if text.lower() in line.lower()]
    assert not leaks, leaks[:5]
    # Merges happened and their loser snapshots are sealed too.
    merges = cypher(container, "MATCH (m:Merge {workspace: $w}) RETURN m.loser_traits AS t", w=workspace)
    assert merges and all(is_sealed(m["t"]) for m in merges)
    # Non-PII stays queryable in the graph.
    assert cypher(container, "MATCH (p:Profile {workspace: $w}) WHERE p.`trait.member_tier` = 'gold' "
                             "RETURN count(p) AS n", w=workspace)[0]["n"] == 1


def test_lookups_stitch_and_reads_are_decrypted(container, client, workspace, write_key):
    body = _ingest_pii(client, write_key)
    assert len(set(body.get("profiles", {}).values() or [None])) <= 1
    by_email = container.profiles.find_by_identifier(workspace=workspace, kind="email", value=PLAIN["email"])
    by_phone = container.profiles.find_by_identifier(workspace=workspace, kind="phone", value=PLAIN["phone_e164"])
    by_user = container.profiles.find_by_identifier(workspace=workspace, kind="user_id", value="enc-u1")
    assert by_email is not None and by_email.id == by_phone.id == by_user.id
    assert by_email.traits["email"] == PLAIN["email"] and by_email.traits["name"] == PLAIN["name"]
    assert ("phone", PLAIN["phone_e164"]) in by_email.identifiers
    assert ("loyalty_card", PLAIN["loyalty"]) in by_email.identifiers
    assert by_email.traits["member_tier"] == "gold"

    # GraphQL profileByIdentifier goes through the blind index and shows the decrypted, masked value.
    token = container.auth.create_api_key(workspace=workspace, role="support_agent", name="t", actor="test")[1]
    q = ('{ profileByIdentifier(type: "email", value: "Mei.Lin@Example.com") { id traits { name value masking } } }')
    r = client.post("/graphql", json={"query": q},
                    headers={"Authorization": f"Bearer {token}", "X-Veil-Purpose": "support"})
    data = r.json()["data"]["profileByIdentifier"]
    assert data["id"] == by_email.id
    traits = {t["name"]: t["value"] for t in data["traits"]}
    assert traits["email"] == "m***@example.com" and traits["phone"] == "09**-***-678"

    # The CLI explains the profile with plain values.
    r = CliRunner().invoke(app, ["profiles", "show", "--purpose", "legal_obligation", "--identifier", f"email:{PLAIN['email']}",
                                 "--workspace", workspace])
    assert r.exit_code == 0, r.output
    assert PLAIN["name"] in r.stdout and PLAIN["phone_e164"] in r.stdout


def test_trait_edit_is_sealed(container, client, workspace, write_key):
    _ingest_pii(client, write_key)
    p = container.profiles.find_by_identifier(workspace=workspace, kind="user_id", value="enc-u1")
    assert container.admin.traits.update(workspace=workspace, profile_id=p.id,
                                         traits={"address": "香港中環皇后大道中99號"}, actor="test")
    raw = cypher(container, "MATCH (p:Profile {id: $id}) RETURN p.`trait.address` AS a, p.`trait.name` AS n",
                 id=p.id)[0]
    assert is_sealed(raw["a"]) and is_sealed(raw["n"])
    again = container.profiles.get_profile(workspace=workspace, profile_id=p.id)
    assert again.traits["address"] == "香港中環皇后大道中99號" and again.traits["name"] == PLAIN["name"]


def test_segments_refuse_comparing_encrypted_traits(container, client, workspace, write_key):
    from segments.model import SegmentError

    _ingest_pii(client, write_key)
    seg = container.segments
    with pytest.raises(SegmentError) as err:
        seg.preview(workspace=workspace, definition={"type": "and", "conditions": [
            {"type": "trait", "name": "member_tier", "op": "eq", "value": "gold"},
            {"type": "trait", "name": "email", "op": "eq", "value": PLAIN["email"]}]})
    assert err.value.code == "encrypted_trait" and "conditions[1].op" in str(err.value)
    assert seg.preview(workspace=workspace, definition={"type": "trait", "name": "email", "op": "exists"}).count == 1
    gold = {"type": "trait", "name": "member_tier", "op": "eq", "value": "gold"}
    assert seg.preview(workspace=workspace, definition=gold).count == 1


def test_encryption_off_stores_plain_values_but_keeps_blind_keys(container, workspace, tmp_path):
    from collect.service import IngestService

    off = FieldVault(provider=LocalKeyProvider(os.urandom(32)), store=SqliteKeyStore(tmp_path / "k.db"),
                     blind_key=b"x" * 32, enabled=False)
    svc = IngestService(repo=container.ingest.repo, settings=container.collect, rules=container.rules, vault=off)
    svc.ingest([{"type": "identify", "userId": "off-1", "messageId": "o1", "traits": {"email": "off@example.com"}}],
               workspace=workspace, source="t")
    raw = cypher(container, "MATCH (i:Identifier {workspace: $w, type: 'email'})-[:IDENTIFIES]->(p) "
                            "RETURN i.key AS k, i.value AS v, p.`trait.email` AS t", w=workspace)[0]
    assert raw["v"] == "off@example.com" and raw["t"] == "off@example.com" and "off@" not in raw["k"]


def test_kek_rotation_by_command_keeps_every_value_readable(container, client, workspace, write_key, tmp_path,
                                                            monkeypatch):
    _ingest_pii(client, write_key)
    pid = container.profiles.find_by_identifier(workspace=workspace, kind="user_id", value="enc-u1").id
    store_file = tmp_path / "rot.db"
    # Copy this workspace's keys into a private store so the rotation does not touch other tests' keys.
    rows = container.vault.store.get_many(
        [r["id"] for r in cypher(container, "MATCH (p:Profile {workspace: $w}) RETURN p.id AS id", w=workspace)])
    SqliteKeyStore(store_file).put_many(rows.values())
    new_file = tmp_path / "new.kek"
    runner = CliRunner()
    assert runner.invoke(app, ["keys", "new-kek", "--out", str(new_file)]).exit_code == 0
    monkeypatch.setenv("VEIL_CRYPTO_KEYSTORE_FILE", str(store_file))
    r = runner.invoke(app, ["keys", "rotate-kek", "--new-kek-file", str(new_file)])
    assert r.exit_code == 0, r.output
    assert f"{len(rows)} data keys rewrapped" in r.output
    new_kek = new_file.read_text().strip()
    import base64

    rotated = FieldVault(provider=LocalKeyProvider(base64.b64decode(new_kek)), store=SqliteKeyStore(store_file),
                         blind_key=b"unused" * 6)
    raw = cypher(container, "MATCH (p:Profile {id: $id}) RETURN p.`trait.email` AS e", id=pid)[0]["e"]
    assert rotated.open(raw) == PLAIN["email"]
    # The old KEK no longer opens the rotated store, and running it again is a no-op.
    stale = FieldVault(provider=container.vault.provider, store=SqliteKeyStore(store_file), blind_key=b"u" * 32)
    with pytest.raises(KeyMaterialError, match="finish the rotation"):
        stale.open(raw)
    monkeypatch.setenv("VEIL_CRYPTO_KEK_FILE", str(new_file))
    r = runner.invoke(app, ["keys", "rotate-kek", "--new-kek-file", str(new_file)])
    assert r.exit_code == 0 and "0 data keys rewrapped" in r.output, r.output


def test_key_cache_is_bounded(tmp_path):
    v = FieldVault(provider=LocalKeyProvider(b"k" * 32), store=SqliteKeyStore(tmp_path / "keys.db"),
                   blind_key=b"b" * 32, cache_size=16)
    ids = [f"p{i}" for i in range(40)]
    v.prepare("ws", ids, create=True)
    assert len(v._cache) == 16
    sealed = v.seal("p0", "x")  # evicted from the cache: loaded again from the store
    assert v.open(sealed) == "x"


def test_prod_refuses_missing_keys_and_dev_generates_them(tmp_path):
    import base64

    from api.container import ConfigError, build_vault
    from core.secrets import SecretStore
    from privacy.settings import CryptoSettings, PrivacySettings

    store = tmp_path / "k.db"
    prod = SecretStore(tmp_path / "prod-secrets", generate=False, env="prod")
    with pytest.raises(ConfigError, match="VEIL_CRYPTO_KEK"):
        build_vault(CryptoSettings(keystore_file=store), PrivacySettings(), env="prod", store=prod)
    real = base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(ConfigError, match="VEIL_CRYPTO_BLIND_INDEX_KEY"):
        build_vault(CryptoSettings(keystore_file=store, kek=real), PrivacySettings(), env="prod", store=prod)
    assert not (tmp_path / "prod-secrets").exists()  # prod generates nothing
    kek_file = tmp_path / "kek"
    kek_file.write_text(real)
    v = build_vault(CryptoSettings(keystore_file=store, kek_file=kek_file,
                                   blind_index_key=base64.b64encode(os.urandom(32)).decode()),
                    PrivacySettings(), env="prod", store=prod)
    assert v.enabled and v.provider.kek_id.startswith("local:")
    dev = SecretStore(tmp_path / "dev-secrets", generate=True, env="dev")
    assert build_vault(CryptoSettings(keystore_file=tmp_path / "k2.db"), PrivacySettings(), env="dev",
                       store=dev).enabled
    assert sorted(p.name for p in (tmp_path / "dev-secrets").iterdir()) == ["blind-index-key", "kek"]


def test_a_new_kek_is_refused_next_to_a_store_with_keys(tmp_path):
    """Keys wrapped by a KEK the install lost (e.g. the former built-in one) are not silently orphaned."""
    import base64

    from api.container import ConfigError, build_vault
    from core.secrets import SecretStore
    from privacy.settings import CryptoSettings, PrivacySettings

    store = tmp_path / "k.db"
    old = base64.b64encode(os.urandom(32)).decode()
    blind = base64.b64encode(os.urandom(32)).decode()
    v = build_vault(CryptoSettings(keystore_file=store, kek=old, blind_index_key=blind), PrivacySettings(),
                    env="dev", store=SecretStore(tmp_path / "unused", generate=False))
    v.prepare("w1", ["p1"], create=True)
    v.store.close()
    secrets = SecretStore(tmp_path / "s", generate=True)
    with pytest.raises(ConfigError, match="holds 1 keys"):
        build_vault(CryptoSettings(keystore_file=store), PrivacySettings(), env="dev", store=secrets)
    assert not (tmp_path / "s" / "kek").exists()  # the refused fresh key is not left behind


def test_encrypt_existing_converts_a_plaintext_workspace(container, workspace):
    from collect.service import IngestService

    plain_vault = FieldVault(provider=container.vault.provider, store=container.vault.store,
                             blind_key=b"x" * 32, enabled=False)
    legacy = IngestService(repo=container.ingest.repo, settings=container.collect, rules=container.rules,
                           vault=plain_vault)
    # A pre-encryption store: plain identifier keys (the old key function), plain values everywhere.
    events = [
        {"type": "identify", "anonymousId": "lg-c", "messageId": "l1", "timestamp": "2026-10-01T00:00:00Z",
         "traits": {"name": PLAIN["name"], "phone": "0912-345-678"}, "context": {"ip": PLAIN["ip"]}},
        {"type": "identify", "userId": "lg-u", "messageId": "l2", "timestamp": "2026-10-01T00:01:00Z",
         "traits": {"email": PLAIN["email"]}},
        {"type": "identify", "userId": "lg-u", "anonymousId": "lg-c", "messageId": "l3",
         "timestamp": "2026-10-01T00:02:00Z"},
    ]
    with mock.patch.object(plain_vault, "identifier_key", resolution.identifier_key):
        legacy.ingest(events, workspace=workspace, source="t")
    dump = "\n".join(_raw_dump(container, workspace))
    assert PLAIN["email"] in dump and PLAIN["name"] in dump  # the test starts from plaintext

    r = CliRunner().invoke(app, ["keys", "encrypt-existing", "-w", workspace])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["identifiers_rekeyed"] == 2 and report["profiles_sealed"] == 1 and report["merges_sealed"] == 1
    dump = _raw_dump(container, workspace)
    leaks = [(name, line) for name, text in PLAIN.items() for line in dump if text.lower() in line.lower()]
    assert not leaks, leaks[:5]
    p = container.profiles.find_by_identifier(workspace=workspace, kind="email", value=PLAIN["email"])
    assert p is not None and p.traits["name"] == PLAIN["name"] and ("phone", PLAIN["phone_e164"]) in p.identifiers
    # New events stitch to the converted person; a second run changes nothing.
    body = container.ingest.ingest([{"type": "track", "anonymousId": "x-9", "event": "E", "messageId": "l4",
                                     "context": {"traits": {"phone": "0912345678"}}}],
                                   workspace=workspace, source="t")
    assert body.profiles[0] == p.id
    r = CliRunner().invoke(app, ["keys", "encrypt-existing", "-w", workspace])
    again = json.loads(r.stdout.strip().splitlines()[-1])
    assert again["identifiers_rekeyed"] == 0 and again["profiles_sealed"] == 0 and again["interactions_sealed"] == 0
