"""The Splink model on synthetic Taiwan/Hong Kong customers and FEBRL (unsupervised; real Splink/DuckDB)."""

from __future__ import annotations

import json

import pytest

from resolution.decide import InvalidThresholds, Outcome, Thresholds, decide
from resolution.features import row_from_fields
from resolution.model import Evidence, MatchingError, MatchModel, ScoredPair
from resolution.synthetic import synth


@pytest.fixture(scope="module")
def trained():
    rows, truth, _ = synth(600, seed=3)
    model = MatchModel(rows)
    model.train(u_pairs=2e5)
    return model, rows, truth


def test_em_estimates_m_and_u_from_the_data(trained):
    model, _, _ = trained
    spec = json.loads(model.to_json())
    dob = next(c for c in spec["comparisons"] if c["output_column_name"] == "dob")
    same = next(lv for lv in dob["comparison_levels"] if lv["label_for_charts"] == "same date")
    assert same["m_probability"] > 0.5 and same["u_probability"] < 0.01
    assert "王" not in model.to_json()  # parameters only, no data values


def test_auto_merges_are_precise_and_the_review_band_recovers_most_duplicates(trained):
    model, _, truth = trained
    th = Thresholds(auto_merge=0.999, review=0.9)
    pairs = model.predict(threshold=th.review)
    auto = {(p.left, p.right) for p in pairs if decide(p, th) is Outcome.MERGE}
    found = {(p.left, p.right) for p in pairs}
    assert auto and len(auto & truth) / len(auto) >= 0.97
    assert len(found & truth) / len(truth) >= 0.9


def test_every_pair_carries_evidence_per_comparison(trained):
    model, _, _ = trained
    pairs = model.predict(threshold=0.99)
    pair = pairs[0]
    names = [e.comparison for e in pair.evidence]
    assert names == ["name", "dob", "email", "phone", "address", "city", "postcode"]
    # The total weight is the comparisons' weights plus one prior weight, the same for every pair.
    priors = {round(p.weight - sum(e.weight for e in p.evidence), 6) for p in pairs}
    assert len(priors) == 1 and priors.pop() < 0
    assert json.loads(pair.evidence_json())[0][0] == "name"


def test_incremental_scoring_only_returns_pairs_with_the_touched_rows(trained):
    model, rows, truth = trained
    spec = model.to_json()
    again = MatchModel(rows, model_json=spec)
    touched = {a for a, _ in sorted(truth)[:10]}
    pairs = again.predict_for(touched, threshold=0.9)
    assert pairs and all(p.left in touched or p.right in touched for p in pairs)


def test_a_conflicting_date_of_birth_vetoes_an_auto_merge():
    same_name_other_dob = ScoredPair("a", "b", 0.99999, 20.0, (
        Evidence("name", "same characters (Traditional/Simplified folded)", 8.0),
        Evidence("dob", "All other comparisons", -5.0)))
    th = Thresholds(auto_merge=0.999, review=0.9)
    assert decide(same_name_other_dob, th) is Outcome.REVIEW
    swapped = ScoredPair("a", "b", 0.99999, 20.0, (Evidence("dob", "day and month swapped", 6.0),))
    assert decide(swapped, th) is Outcome.MERGE
    household_only = ScoredPair("a", "b", 0.99999, 30.0, (
        Evidence("name", "same characters (Traditional/Simplified folded)", 10.0), Evidence("dob", "missing", 0.0),
        Evidence("phone", "same number", 10.0), Evidence("address", "same address", 10.0)))
    assert decide(household_only, th) is Outcome.REVIEW
    assert decide(ScoredPair("a", "b", 0.5, 0.0, ()), th) is Outcome.NONE


def test_bad_thresholds_and_tiny_inputs_are_clear_errors():
    with pytest.raises(InvalidThresholds) as exc:
        Thresholds(auto_merge=0.8, review=0.9)
    assert exc.value.code == "invalid_thresholds" and exc.value.field == "review"
    with pytest.raises(InvalidThresholds):
        Thresholds(auto_merge=1.5, review=0.9)
    with pytest.raises(MatchingError) as small:
        MatchModel([row_from_fields("x", name="王小明")])
    assert small.value.code == "too_few_profiles"
