"""Consent policy loading and validation (no database)."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from consent.model import Jurisdiction, LawfulBasis, Purpose
from consent.policy import PolicyError, PurposeRule, load_policy, parse_policy

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "consent" / "default_policy.json"


@pytest.fixture()
def doc() -> dict:
    return json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))


def test_default_policy_covers_every_purpose_in_every_jurisdiction():
    policy = load_policy()
    for jurisdiction in Jurisdiction:
        for purpose in Purpose:
            rule = policy.rule(jurisdiction, purpose)
            assert isinstance(rule, PurposeRule), (jurisdiction, purpose)


def test_default_policy_choices():
    p = load_policy()
    gdpr_analytics = p.rule(Jurisdiction.GDPR, Purpose.analytics)
    assert LawfulBasis.legitimate_interests in gdpr_analytics.lawful_bases
    assert gdpr_analytics.objection_blocks and not gdpr_analytics.requires_consent
    for jurisdiction in Jurisdiction:
        for purpose in (Purpose.marketing, Purpose.sale, Purpose.ads):
            rule = p.rule(jurisdiction, purpose)
            assert rule.lawful_bases == (LawfulBasis.consent,) and rule.requires_consent
            assert rule.objection_blocks and rule.gpc_blocks
    gdpr = Jurisdiction.GDPR
    assert p.rule(gdpr, Purpose.personalization).requires_consent
    assert p.rule(gdpr, Purpose.support).lawful_bases == (
        LawfulBasis.contract, LawfulBasis.legitimate_interests)
    assert p.rule(gdpr, Purpose.security).lawful_bases == (LawfulBasis.legitimate_interests,)
    assert not p.rule(gdpr, Purpose.security).objection_blocks
    assert p.rule(gdpr, Purpose.legal_obligation).lawful_bases == (LawfulBasis.legal_obligation,)
    assert p.rule(Jurisdiction.HK_PDPO, Purpose.marketing).consent_expiry_days is None


def test_default_file_explains_itself(doc):
    assert doc["notes"]
    assert all(j.get("notes") for j in doc["jurisdictions"].values())


def test_policy_is_read_only():
    p = load_policy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.version = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        p.jurisdictions[Jurisdiction.GDPR] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        p.jurisdictions[Jurisdiction.GDPR][Purpose.ads] = None  # type: ignore[index]


def test_load_policy_from_path(tmp_path, doc):
    doc["version"] = "custom-7"
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert load_policy(path).version == "custom-7"


def test_load_policy_bad_file(tmp_path):
    path = tmp_path / "policy.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="consent policy"):
        load_policy(path)
    with pytest.raises(ValueError, match="consent policy"):
        load_policy(tmp_path / "missing.json")


MKT = ("jurisdictions", "GDPR", "purposes", "marketing")
ANA = ("jurisdictions", "GDPR", "purposes", "analytics")


def _set(doc: dict, keys: tuple[str, ...], value) -> dict:
    out = copy.deepcopy(doc)
    node = out
    for k in keys[:-1]:
        node = node[k]
    node[keys[-1]] = value
    return out


def _drop(doc: dict, keys: tuple[str, ...]) -> dict:
    out = copy.deepcopy(doc)
    node = out
    for k in keys[:-1]:
        node = node[k]
    del node[keys[-1]]
    return out


@pytest.mark.parametrize(("mutate", "path", "message"), [
    (lambda d: _set(d, (*MKT, "lawful_bases"), ["consent", "goodwill"]),
     "$.jurisdictions.GDPR.purposes.marketing.lawful_bases[1]", "unknown lawful basis"),
    (lambda d: _set(d, (*MKT, "lawful_bases"), ["consent", "consent"]),
     "$.jurisdictions.GDPR.purposes.marketing.lawful_bases[1]", "duplicate"),
    (lambda d: _set(d, (*MKT, "lawful_bases"), ["consent", "legitimate_interests"]),
     "$.jurisdictions.GDPR.purposes.marketing.lawful_bases", "requires_consent is true"),
    (lambda d: _set(d, (*MKT, "lawful_bases"), []),
     "$.jurisdictions.GDPR.purposes.marketing.lawful_bases", "non-empty list"),
    (lambda d: _set(d, (*ANA, "requires_consent"), "no"),
     "$.jurisdictions.GDPR.purposes.analytics.requires_consent", "true or false"),
    (lambda d: _set(d, (*ANA, "lawful_bases"), ["consent"]),
     "$.jurisdictions.GDPR.purposes.analytics.requires_consent", "must be true"),
    (lambda d: _set(d, (*MKT, "gpc_blocks"), False),
     "$.jurisdictions.GDPR.purposes.marketing.gpc_blocks", "must be true for marketing"),
    (lambda d: _set(d, ("jurisdictions", "HK_PDPO", "purposes", "ads", "objection_blocks"), False),
     "$.jurisdictions.HK_PDPO.purposes.ads.objection_blocks", "must be true"),
    (lambda d: _set(d, (*MKT, "consent_expiry_days"), True),
     "$.jurisdictions.GDPR.purposes.marketing.consent_expiry_days", "whole number"),
    (lambda d: _set(d, (*MKT, "consent_expiry_days"), 0),
     "$.jurisdictions.GDPR.purposes.marketing.consent_expiry_days", "whole number"),
    (lambda d: _drop(d, (*ANA, "objection_blocks")),
     "$.jurisdictions.GDPR.purposes.analytics.objection_blocks", "is required"),
    (lambda d: _set(d, (*ANA, "blocks_everything"), True),
     "$.jurisdictions.GDPR.purposes.analytics.blocks_everything", "unknown key"),
    (lambda d: _set(d, ("jurisdictions", "GDPR", "purposes", "profiling"), {}),
     "$.jurisdictions.GDPR.purposes.profiling", "unknown purpose"),
    (lambda d: _set(d, ("jurisdictions", "US_CCPA"), {"purposes": {}}),
     "$.jurisdictions.US_CCPA", "unknown jurisdiction"),
    (lambda d: _set(d, ("jurisdictions", "TW_PDPA", "purposes"), {}),
     "$.jurisdictions.TW_PDPA.purposes", "non-empty object"),
    (lambda d: _set(d, ("jurisdictions", "TW_PDPA", "purposes", "support"), []),
     "$.jurisdictions.TW_PDPA.purposes.support", "must be an object"),
    (lambda d: _set(d, ("version",), ""), "$.version", "non-empty string"),
    (lambda d: _set(d, ("notes",), 3), "$.notes", "string or an object"),
    (lambda d: _drop(d, ("jurisdictions",)), "$.jurisdictions", "is required"),
])
def test_validation_errors_name_the_offending_path(doc, mutate, path, message):
    with pytest.raises(PolicyError) as err:
        parse_policy(mutate(doc))
    assert err.value.path == path
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)
    assert isinstance(err.value, ValueError)


def test_load_policy_reports_the_path_from_a_file(tmp_path, doc):
    path = tmp_path / "policy.json"
    bad = _set(doc, (*MKT, "lawful_bases"), ["legitimate_interests"])
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(ValueError, match=r"^\$\.jurisdictions\.GDPR\.purposes\.marketing"):
        load_policy(path)
