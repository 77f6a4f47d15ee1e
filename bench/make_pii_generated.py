"""Generate privacy/corpus/pii_generated.jsonl: labelled PII texts with hard negatives.

Each line: {"id", "lang", "split", "template", "text", "entities": [{"type", "start", "end"}],
"negatives": [{"class", "start", "end"}]}. "dev" samples come only from DEV templates and
"holdout" samples only from HOLDOUT templates (bench/pii_templates.py); the split is fixed
by the seed and the file is committed. Tune on dev; report holdout.

Surface forms come from bench/pii_formats.py (separators, prefixes, case, brackets) plus,
here, full-width rendering, non-breaking/ideographic spaces, and spacing around a slot in
Chinese text toggled either way (glued to the characters or set apart).

    .venv/bin/python bench/make_pii_generated.py [--dev 1200] [--holdout 1000] [--seed 16]
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from pii_formats import ENTITIES, NEGATIVES, fullwidth
from pii_templates import ADDRS, DEV, HOLDOUT, NAMES

OUT = ROOT / "privacy" / "corpus" / "pii_generated.jsonl"
FULLWIDTH_P = 0.08
ODD_SPACE_P = 0.08
RESPACE_P = 0.3

FILLERS = {
    "name": lambda r: r.choice(NAMES),
    "addr": lambda r: r.choice(ADDRS),
    "qty": lambda r: str(r.randint(1, 12)),
    "time": lambda r: f"{r.randint(9, 21)}:{r.choice(['00', '15', '30', '45'])}",
}


def _is_cjk(ch: str) -> bool:
    return ch > "\u2e80"


def _render(value: str, rng: random.Random, *, lang: str) -> str:
    if lang != "en" and rng.random() < FULLWIDTH_P:
        return fullwidth(value)
    if " " in value and rng.random() < ODD_SPACE_P:
        return value.replace(" ", rng.choice(["\u00a0", "\u3000"]))
    return value


def _respace(text: str, rng: random.Random) -> str:
    """Glue a slot to the preceding Chinese character, or set it apart with a space."""
    if rng.random() >= RESPACE_P or not text:
        return text
    if text.endswith(" ") and len(text) > 1 and _is_cjk(text[-2]):
        return text[:-1]
    if _is_cjk(text[-1]):
        return text + " "
    return text


def fill(template: str, rng: random.Random, lang: str) -> tuple[str, list[dict], list[dict]]:
    """Render one template; record entity spans and hard-negative spans."""
    text, entities, negatives = "", [], []
    for literal, field, _, _ in string.Formatter().parse(template):
        text += literal
        if field is None:
            continue
        if field in FILLERS:
            text += FILLERS[field](rng)
            continue
        text = _respace(text, rng)
        if field in ENTITIES:
            gen, label = ENTITIES[field]
            value = _render(gen(rng), rng, lang=lang)
            entities.append({"type": label, "start": len(text), "end": len(text) + len(value)})
        else:
            value = _render(NEGATIVES[field](rng), rng, lang=lang)
            negatives.append({"class": field, "start": len(text), "end": len(text) + len(value)})
        text += value
    return text, entities, negatives


def generate(
    n: int, seed: int, templates: dict[str, list[str]], split: str
) -> list[dict[str, Any]]:
    """n samples of one split, every template used at least once, languages balanced."""
    rng = random.Random(f"{seed}-{split}")
    pool = [(lang, i, t) for lang, ts in templates.items() for i, t in enumerate(ts)]
    order = list(pool)
    per_lang = {lang: [p for p in pool if p[0] == lang] for lang in templates}
    langs = sorted(per_lang)
    while len(order) < n:
        order.append(rng.choice(per_lang[langs[len(order) % len(langs)]]))
    rng.shuffle(order)
    samples = []
    for k, (lang, i, template) in enumerate(order[:n]):
        text, entities, negatives = fill(template, rng, lang)
        samples.append({"id": f"{split[0]}{k:04d}", "lang": lang, "split": split,
                        "template": f"{split}/{lang}/{i}", "text": text, "entities": entities,
                        "negatives": negatives})  # fmt: skip
    return samples


def build(n_dev: int, n_holdout: int, seed: int) -> list[dict[str, Any]]:
    """Both splits, deterministic for a seed."""
    return generate(n_dev, seed, DEV, "dev") + generate(n_holdout, seed, HOLDOUT, "holdout")


def dumps(samples: list[dict[str, Any]]) -> str:
    """The corpus file's exact text."""
    return "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples)


DEFAULTS = {"n_dev": 1200, "n_holdout": 1000, "seed": 16}


def main() -> None:
    """Write the corpus file."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dev", type=int, default=DEFAULTS["n_dev"])
    ap.add_argument("--holdout", type=int, default=DEFAULTS["n_holdout"])
    ap.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    samples = build(args.dev, args.holdout, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps(samples), encoding="utf-8")
    n_ent = sum(len(s["entities"]) for s in samples)
    n_neg = sum(len(s["negatives"]) for s in samples)
    print(f"wrote {len(samples)} samples, {n_ent} entities, {n_neg} hard negatives -> {args.out}")


if __name__ == "__main__":
    main()
