"""The Fellegi-Sunter model: Splink on an in-memory DuckDB, m/u estimated from the data.

- u probabilities from random pairs, m probabilities by expectation maximisation over two
  training blockings (date of birth; name), the prior from deterministic rules;
- candidate pairs only from blocking rules (near-linear cost), scored with the trained model;
- each scored pair keeps per-comparison evidence: the level that applied (its label) and the
  match weight it contributed, never the values compared.

Nothing here touches Neo4j or the disk: rows come in as dicts, pairs go out as `ScoredPair`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import VeilError

logger = logging.getLogger(__name__)
MIN_ROWS = 20  # fewer rows than this cannot estimate m/u


class MatchingError(VeilError):
    """The matching job cannot run on this input (too few profiles, a bad model)."""

    code = "matching_failed"
    status = 400


@dataclass(frozen=True)
class Evidence:
    """One comparison's outcome for a pair: which level applied and its match weight (log2 BF)."""

    comparison: str
    level: str
    weight: float


@dataclass(frozen=True)
class ScoredPair:
    """A candidate pair with its match probability, total match weight and evidence."""

    left: str
    right: str
    probability: float
    weight: float
    evidence: tuple[Evidence, ...]

    def evidence_json(self) -> str:
        """Evidence as compact JSON (labels and weights only)."""
        return json.dumps([[e.comparison, e.level, round(e.weight, 3)] for e in self.evidence],
                          ensure_ascii=False)


def _levels(name: str, null_sql: str, levels: list[tuple[str, str]]) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    out: list[Any] = [cll.CustomLevel(null_sql, "missing").configure(is_null_level=True)]
    out += [cll.CustomLevel(sql, label) for sql, label in levels]
    out.append(cll.ElseLevel())
    return cl.CustomComparison(comparison_levels=out, output_column_name=name)


def _jw(col: str) -> str:
    return f"jaro_winkler_similarity({col}_l, {col}_r)"


def _same_len(col: str) -> str:
    return f"length({col}_l) = length({col}_r)"


def comparisons() -> list[Any]:
    """The comparisons, most telling level first in each."""
    name_jw = f"greatest({_jw('name_mandarin')}, coalesce({_jw('name_cantonese')}, 0))"
    return [
        _levels("name", "name_mandarin_l IS NULL OR name_mandarin_r IS NULL", [
            ("name_hanzi_l = name_hanzi_r", "same characters (Traditional/Simplified folded)"),
            ("name_mandarin_l = name_mandarin_r", "same Mandarin romanisation"),
            ("len(list_intersect(name_forms_l, name_forms_r)) > 0", "same name in another romanisation"),
            (f"{name_jw} >= 0.94", "romanisation similar (JW >= 0.94)"),
            (f"{name_jw} >= 0.85", "romanisation similar (JW >= 0.85)"),
        ]),
        _levels("dob", "dob_l IS NULL OR dob_r IS NULL", [
            ("dob_l = dob_r", "same date"),  # ISO dates: always 10 characters
            ("substr(dob_l, 1, 4) = substr(dob_r, 1, 4) AND substr(dob_l, 6, 2) = substr(dob_r, 9, 2) AND "
             + "substr(dob_l, 9, 2) = substr(dob_r, 6, 2)", "day and month swapped"),
            ("hamming(dob_l, dob_r) <= 1", "one digit off"),
            ("hamming(dob_l, dob_r) <= 2", "two digits off"),
        ]),
        _levels("email", "email_l IS NULL OR email_r IS NULL", [
            ("email_l = email_r", "same address"),
            ("email_local_l = email_local_r", "same local part, other domain"),
            (f"email_domain_l = email_domain_r AND {_jw('email_local')} >= 0.93", "local part one typo off"),
            (f"{_jw('email_local')} >= 0.85", "local part similar"),
        ]),
        _levels("phone", "phone_l IS NULL OR phone_r IS NULL", [
            ("phone_l = phone_r", "same number"),
            # DuckDB's edit distances cost ~10 us a pair; a same-length Hamming distance is 10x cheaper.
            (f"{_same_len('phone')} AND hamming(phone_l, phone_r) <= 1", "one digit off"),
            (f"{_same_len('phone')} AND hamming(phone_l, phone_r) <= 2", "two digits off (e.g. swapped)"),
            ("right(phone_l, 8) = right(phone_r, 8)", "same last 8 digits"),
        ]),
        _levels("address", "address_l IS NULL OR address_r IS NULL", [
            ("address_l = address_r", "same address"),
            (f"{_jw('address')} >= 0.9", "address similar (JW >= 0.9)"),
            (f"{_jw('address')} >= 0.75", "address similar (JW >= 0.75)"),
        ]),
        _levels("city", "city_l IS NULL OR city_r IS NULL", [
            ("city_l = city_r", "same city"),
            (f"{_jw('city')} >= 0.88", "city similar"),
        ]),
        _levels("postcode", "postcode_l IS NULL OR postcode_r IS NULL", [
            ("postcode_l = postcode_r", "same postcode"),
            (f"{_same_len('postcode')} AND hamming(postcode_l, postcode_r) <= 1", "postcode one digit off"),
        ]),
    ]


def blocking_rules() -> list[Any]:
    """Candidate pairs: any one of these agrees (each keeps blocks small on real data)."""
    from splink import block_on

    return [
        block_on("name_mandarin"),
        block_on("name_cantonese"),
        block_on("dob", "surname"),
        block_on("dob", "substr(name_mandarin, 1, 2)"),
        block_on("phone"),
        block_on("email"),
        block_on("email_local"),
        block_on("postcode", "substr(name_mandarin, 1, 3)"),
        block_on("dob", "postcode"),
        block_on("dob", "city"),
        block_on("address", "postcode"),
        block_on("dob", "substr(address, 1, 8)"),
        block_on("substr(phone, -6)", "substr(dob, 1, 4)"),
        block_on("name_hanzi"),
    ]


def _settings() -> Any:
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=blocking_rules(),
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
        max_iterations=25,
        em_convergence=0.0005,
    )


def _frame(rows: Sequence[dict[str, Any]]) -> Any:
    import pandas as pd

    from resolution.features import COLUMNS

    df = pd.DataFrame(list(rows), columns=list(COLUMNS))
    return df.astype({c: "object" for c in COLUMNS if c != "name_forms"})


class MatchModel:
    """A trained (or loaded) model over one set of rows, kept in one in-memory DuckDB."""

    def __init__(self, rows: Sequence[dict[str, Any]], *, model_json: str | None = None,
                 threads: int | None = None) -> None:
        if len(rows) < MIN_ROWS and model_json is None:
            raise MatchingError(f"matching needs at least {MIN_ROWS} profiles to estimate its model, "
                                f"got {len(rows)}", code="too_few_profiles")
        import duckdb
        from splink import DuckDBAPI, Linker

        con = duckdb.connect(":memory:")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        self.db = DuckDBAPI(connection=con)
        self.table = self.db.register(_frame(rows), table_name="profiles")
        settings: Any = json.loads(model_json) if model_json else _settings()
        self.linker = Linker(self.table, settings, log_level=logging.ERROR)
        self.trained = model_json is not None

    def train(self, *, u_pairs: float = 1e6, em_pairs: float = 1e6, seed: int = 42) -> None:
        """Estimate the prior, u (random pairs) and m (EM) from the rows themselves."""
        from splink import block_on

        t = self.linker.training
        try:
            t.estimate_probability_two_random_records_match(
                [block_on("name_mandarin", "dob"), block_on("phone", "dob"), block_on("email")], recall=0.7)
        except Exception as exc:  # noqa: BLE001 - no deterministic matches at all: keep the default prior
            logger.info("prior not estimated: %s", exc)
        t.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed, num_chunks=1)
        settings = self.linker._settings_obj
        for column in ("dob", "name_mandarin", "postcode"):
            # A failed session leaves Splink's settings with its blocked comparisons removed:
            # keep a copy and put it back.
            saved = settings.core_model_settings.copy()
            try:
                # EM sees at most em_pairs blocked pairs (a hash sample): a date-of-birth block over
                # a million profiles is tens of millions of pairs, and m needs far fewer.
                t.estimate_parameters_using_expectation_maximisation(block_on(column), fix_u_probabilities=True,
                                                                     max_pairs=em_pairs)
            except Exception as exc:  # noqa: BLE001 - no pairs, or a degenerate estimate on tiny data
                settings.core_model_settings = saved
                logger.info("EM blocked on %s skipped: %s", column, exc)
        self.trained = True

    def to_json(self) -> str:
        """The trained model (settings, m/u; no data values: no term-frequency tables)."""
        return json.dumps(self.linker.misc.save_model_to_json(), default=str)

    def _levels(self) -> dict[str, list[tuple[float, str]]]:
        """Per comparison: (match weight, label) of each level (the null level weighs 0)."""
        out: dict[str, list[tuple[float, str]]] = {}
        for comp in self.linker._settings_obj.comparisons:
            levels = []
            for lvl in comp.comparison_levels:
                try:
                    w = 0.0 if lvl.is_null_level else float(lvl._log2_bayes_factor)
                except (TypeError, ValueError, ZeroDivisionError):
                    continue
                levels.append((w, lvl.label_for_charts))
            out[comp.output_column_name] = levels
        return out

    def predict(self, *, threshold: float) -> list[ScoredPair]:
        """Scored candidate pairs at or above `threshold` match probability."""
        df = self.linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
        try:
            return self._pairs(df.as_record_list())
        finally:
            df.drop_table_from_database_and_remove_from_cache()

    def predict_for(self, ids: Iterable[str], *, threshold: float) -> list[ScoredPair]:
        """Pairs that involve at least one of `ids` (an incremental run), scored by this model."""
        wanted = set(ids)
        if not wanted:
            return []
        import pandas as pd

        touched = self.db.register(pd.DataFrame({"unique_id": sorted(wanted)}), table_name=f"touched_{len(wanted)}_{id(wanted)}")
        sql = (f"SELECT p.* FROM {self.table.physical_name} p JOIN {touched.physical_name} t "
               "USING (unique_id)")
        subset = self.linker.misc.query_sql(sql, output_type="splink_df")
        df = self.linker.inference.predict_between(subset, self.table, threshold_match_probability=threshold,
                                                   warning_mode="never")
        try:
            pairs = self._pairs(df.as_record_list())
        finally:
            df.drop_table_from_database_and_remove_from_cache()
        seen: set[tuple[str, str]] = set()
        out = []
        for p in pairs:
            key = (min(p.left, p.right), max(p.left, p.right))
            if p.left != p.right and key not in seen:
                seen.add(key)
                out.append(p)
        return out

    def _pairs(self, records: list[dict[str, Any]]) -> list[ScoredPair]:
        levels = self._levels()
        out = []
        for r in records:
            evidence = []
            for comp, options in levels.items():
                mw = r.get(f"mw_{comp}")
                if mw is None or not options:
                    continue
                # Splink 5 returns each comparison's weight; the level is the one with that weight.
                label = min(options, key=lambda o: abs(o[0] - mw))[1]
                evidence.append(Evidence(comp, label, float(mw)))
            left, right = str(r["unique_id_l"]), str(r["unique_id_r"])
            if left > right:
                left, right = right, left
            out.append(ScoredPair(left, right, float(r["match_probability"]), float(r["match_weight"]),
                                  tuple(evidence)))
        return out
