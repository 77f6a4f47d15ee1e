"""Trait catalog classification (by name, by sampled values) and the ingest policy, as units."""

from __future__ import annotations

import pytest

from privacy.catalog import CatalogService, DecidedBy, classify_key, classify_values
from privacy.ingest_scan import IngestPolicyError, IngestScanner, load_ingest_policy, parse_policy
from privacy.masking import PiiCategory, category_by_name, trait_category

C = PiiCategory


@pytest.mark.parametrize(("name", "category"), [
    ("email", C.CONTACT), ("E-Mail", C.CONTACT), ("phoneNumber", C.CONTACT), ("PHONE_NUMBER", C.CONTACT),
    ("Phone-Number", C.CONTACT), ("手機", C.CONTACT), ("聯絡電話", C.CONTACT), ("ｅｍａｉｌ", C.CONTACT),
    ("customer_email", C.CONTACT), ("身分證", C.GOVERNMENT_ID), ("身分證字號", C.GOVERNMENT_ID),
    ("nationalId", C.GOVERNMENT_ID), ("生日", C.BIRTH_DATE), ("dateOfBirth", C.BIRTH_DATE),
    ("地址", C.LOCATION), ("home_address", C.LOCATION), ("credit-card", C.FINANCIAL),
    ("member_tier", C.NON_PII), ("order_id", C.NON_PII), ("備註", C.FREE_TEXT),
])
def test_category_by_name_ignores_case_separators_and_reads_chinese(name, category):
    assert category_by_name(name) == category


def test_unknown_names_are_not_guessed():
    assert category_by_name("favourite_colour") is None
    assert trait_category("favourite_colour") == C.FREE_TEXT


@pytest.mark.parametrize(("values", "category"), [
    (["A123456789"], C.GOVERNMENT_ID),
    (["0912-345-678", "+852 9123 4567"], C.CONTACT),
    (["amy@example.com"], C.CONTACT),
    (["4111 1111 1111 1111"], C.FINANCIAL),
    (["please call 0912-345-678 after 6pm"], C.FREE_TEXT),
    ([3, 7.5, True], C.NON_PII),
    (["blue", "green"], C.FREE_TEXT),
    ([{"a": 1}], C.FREE_TEXT),
])
def test_classify_values(values, category):
    assert classify_values(values) == category


def test_classify_key_prefers_the_name_then_samples():
    assert classify_key("mobile", ["not a phone"]) == (C.CONTACT, DecidedBy.NAME)
    assert classify_key("x_ref", ["A123456789"]) == (C.GOVERNMENT_ID, DecidedBy.SAMPLED_VALUES)


def test_shipped_policy_loads_and_bad_policies_are_refused():
    policy = load_ingest_policy()
    assert policy.fields[C.NON_PII].value == "allow"
    base = {"fields": {c.value: "allow" for c in C}, "free_text_findings": {
        "contact": "redact", "government_id": "reject", "financial": "tokenize", "birth_date": "allow"}}
    assert parse_policy(base).free_text_findings[C.GOVERNMENT_ID].value == "reject"
    with pytest.raises(IngestPolicyError, match="shred"):
        parse_policy({**base, "fields": {**base["fields"], "contact": "shred"}})
    with pytest.raises(IngestPolicyError, match="no action for birth_date"):
        parse_policy({**base, "free_text_findings": {k: v for k, v in base["free_text_findings"].items()
                                                     if k != "birth_date"}})
    with pytest.raises(IngestPolicyError, match="unknown category"):
        parse_policy({**base, "fields": {**base["fields"], "medical": "allow"}})


class _MemoryCatalog:
    """In-memory stand-in for graph.catalog.CatalogRepository (same methods)."""

    def __init__(self):
        self.rows = {}
        self.inserts = 0

    def entries(self, *, workspace, scope=None):
        return [e for (w, _, _), e in self.rows.items() if w == workspace]

    def insert_if_absent(self, *, workspace, rows, now):
        from graph.catalog import CatalogEntry

        out = []
        for r in rows:
            self.inserts += 1
            key = (workspace, r["scope"], r["key"])
            self.rows.setdefault(key, CatalogEntry(workspace, r["scope"], r["key"], r["category"], r["sensitivity"],
                                                   r["decided_by"], now, None))
            out.append(self.rows[key])
        return out


def _scanner(policy_overrides=None):
    base = {"fields": {"contact": "encrypt", "government_id": "encrypt", "financial": "tokenize",
                       "location": "encrypt", "birth_date": "redact", "free_text": "encrypt", "non_pii": "allow"},
            "free_text_findings": {"contact": "redact", "government_id": "reject", "financial": "tokenize",
                                   "birth_date": "redact"}}
    base.update(policy_overrides or {})
    repo = _MemoryCatalog()
    return IngestScanner(catalog=CatalogService(repo=repo), policy=parse_policy(base),
                         hmac_key=b"k" * 32), repo


def test_scanner_applies_field_and_free_text_actions_and_classifies_once():
    scanner, repo = _scanner()
    events = [({"email": "a@example.com", "birthday": "1990-01-02", "card_number": "4111111111111111",
                "notes": "call 0912-345-678 or mail a@example.com"}, {"comment": "no pii here", "revenue": 3}),
              ({"notes": "my id is A123456789"}, {})]
    out = scanner.scan_batch(workspace="w", events=events)
    t = out[0].traits
    assert t["email"] == "a@example.com"  # encrypt: left for the at-rest layer
    assert t["birthday"] == "<BIRTH_DATE>" and t["card_number"].startswith("h:")
    assert t["notes"] == "call <TW_PHONE> or mail <EMAIL_ADDRESS>"
    assert out[0].properties == {"comment": "no pii here", "revenue": 3}
    assert out[0].refusal is None and out[0].findings == 2
    assert out[1].refusal is not None and out[1].refusal.code == "pii_rejected"
    assert out[1].refusal.field == "traits.notes" and "A123456789" not in out[1].refusal.message
    inserted = repo.inserts
    scanner.scan_batch(workspace="w", events=events)
    assert repo.inserts == inserted  # known keys are not classified again
    decided = {(e.scope, e.key): e.decided_by for e in repo.entries(workspace="w")}
    assert decided[("trait", "email")] == "name" and decided[("property", "comment")] == "name"


def test_unknown_key_is_classified_by_its_sampled_values():
    scanner, repo = _scanner()
    scanner.scan_batch(workspace="w", events=[({}, {"ref_x": "A123456789"}), ({}, {"ref_x": "A123456789"})])
    entry = {(e.scope, e.key): e for e in repo.entries(workspace="w")}[("property", "ref_x")]
    assert (entry.category, entry.decided_by) == ("government_id", "sampled_values")


def test_free_text_tokens_are_keyed_and_stable():
    scanner, _ = _scanner({"free_text_findings": {"contact": "tokenize", "government_id": "redact",
                                                 "financial": "redact", "birth_date": "redact"}})
    a, b = scanner.scan_batch(workspace="w", events=[({"notes": "tel 0912-345-678"}, {}),
                                                     ({"notes": "tel 0912-345-678 !"}, {})])
    token = a.traits["notes"].removeprefix("tel ")
    assert token.startswith("h:") and b.traits["notes"] == f"tel {token} !"
    assert "0912" not in a.traits["notes"]
