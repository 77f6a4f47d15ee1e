"""Chinese personal names in comparable forms: characters, Mandarin and Cantonese romanisations.

One person's name reaches us as 王小明 (CRM), 王曉明 (a delivery address in Traditional
characters), "Wang Hsiao-Ming" (Wade-Giles, Taiwan passports), "Wang Xiaoming" (Hanyu Pinyin)
or "Wong Siu Ming" (Hong Kong Government Cantonese romanisation). Each name is turned into:

- `hanzi`: the characters in Simplified form (OpenCC `t2s`), so 曉 and 晓 compare equal;
- `mandarin`: a loose Wade-Giles key: characters through pypinyin, Pinyin syllables through
  pypinyin's Wade-Giles table, Wade-Giles as written; apostrophes and umlauts dropped (most
  passports drop them too), syllables sorted so that given-name-first orders compare equal;
- `cantonese`: characters through `cantoroman` (HK Government romanisation), or the Latin
  name's own syllables, sorted the same way.

Libraries do the linguistics (OpenCC, pypinyin, cantoroman); this module only chooses forms.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_TOKEN = re.compile(r"[a-z]+")
_APOSTROPHES = str.maketrans({"'": "", "\u2019": "", "\u2018": "", "\u02bc": "", "`": ""})


@dataclass(frozen=True)
class NameForms:
    """Comparable forms of one name (None where a form does not apply)."""

    hanzi: str | None
    mandarin: str | None
    cantonese: str | None
    surname: str | None  # the family name's Mandarin key (for blocking)
    variants: tuple[str, ...] = ()  # other Cantonese readings of the characters (大: daai, dai, tai)

    @property
    def forms(self) -> list[str]:
        """All romanised keys, for an any-form-agrees comparison."""
        return sorted({f for f in (self.mandarin, self.cantonese, *self.variants) if f})


@lru_cache(maxsize=1)
def _t2s():  # type: ignore[no-untyped-def]
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _canto():  # type: ignore[no-untyped-def]
    from cantoroman import Cantonese

    return Cantonese()


@lru_cache(maxsize=1)
def _pinyin_syllables() -> frozenset[str]:
    """Every toneless Hanyu Pinyin syllable pypinyin knows."""
    from pypinyin import Style, pinyin_dict
    from pypinyin.style import convert

    out: set[str] = set()
    for readings in pinyin_dict.pinyin_dict.values():
        for r in readings.split(","):
            out.add(convert(r, Style.NORMAL, strict=True).replace("ü", "v"))
    return frozenset(out)


@lru_cache(maxsize=4096)
def _pinyin_to_wg(syllable: str) -> str:
    from pypinyin import Style
    from pypinyin.style import convert

    return _loose(convert(syllable, Style.WADEGILES, strict=True))


@lru_cache(maxsize=1)
def _wg_syllables() -> frozenset[str]:
    return frozenset(_pinyin_to_wg(s) for s in _pinyin_syllables())


@lru_cache(maxsize=1)
def _canto_syllables() -> frozenset[str]:
    return frozenset(k.lower() for k in _canto().romanToChar)


@lru_cache(maxsize=1)
def _all_syllables() -> frozenset[str]:
    return _pinyin_syllables() | _wg_syllables() | _canto_syllables()


def _loose(text: str) -> str:
    return text.translate(_APOSTROPHES).replace("ü", "u").replace("v", "u").lower()


@lru_cache(maxsize=65536)
def _mandarin_of_char(ch: str) -> str:
    from pypinyin import Style, lazy_pinyin

    return _loose(lazy_pinyin(ch, style=Style.WADEGILES)[0])


@lru_cache(maxsize=65536)
def _canto_of_char(ch: str) -> tuple[str, ...]:
    readings = _canto().getRoman(ch)[0] or _canto().getRoman(_traditional(ch))[0]
    return tuple(r.lower() for r in readings) or ("",)


MAX_VARIANTS = 8


def _canto_variants(chars: str) -> list[str]:
    """Cantonese keys over the characters' readings (first reading first), at most MAX_VARIANTS."""
    combos: list[list[str]] = [[]]
    for c in chars:
        combos = [[*combo, r] for combo in combos for r in _canto_of_char(c)][:MAX_VARIANTS]
    return [k for k in (_key(c) for c in combos) if k]


@lru_cache(maxsize=65536)
def _simplified(text: str) -> str:
    return str(_t2s().convert(text))


@lru_cache(maxsize=1)
def _s2t():  # type: ignore[no-untyped-def]
    import opencc

    return opencc.OpenCC("s2t")


@lru_cache(maxsize=65536)
def _traditional(text: str) -> str:
    return str(_s2t().convert(text))


def _segment(token: str) -> list[str]:
    """Split a run of syllables ("hsiaoming") into known syllables of one system (Pinyin, then
    Wade-Giles, then Cantonese), longest first; as is if none fits."""
    if token in _all_syllables() or len(token) > 24:
        return [token]
    for syllables in (_pinyin_syllables(), _wg_syllables(), _canto_syllables()):
        found = _split(token, syllables)
        # A Chinese given name has two (rarely three) syllables; longer splits are Western names.
        if found and len(found) <= 3 and all(len(s) >= 2 for s in found):
            return found
    return [token]


def _split(token: str, syllables: frozenset[str]) -> list[str] | None:

    @cache
    def split(i: int) -> tuple[str, ...] | None:
        if i == len(token):
            return ()
        for j in range(min(len(token), i + 6), i, -1):
            if token[i:j] in syllables:
                rest = split(j)
                if rest is not None:
                    return (token[i:j], *rest)
        return None

    found = split(0)
    return list(found) if found else None


def _key(syllables: list[str]) -> str | None:
    parts = sorted(s for s in syllables if s)
    return " ".join(parts) if parts else None


_ACCENTED = re.compile(r"[\u00c0-\u024f\u1e00-\u1eff]")


def clean(text: str) -> str:
    """NFKC (full-width forms), accents stripped, lower-cased, trimmed."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
        if _ACCENTED.search(text):  # only Latin letters carry accents worth stripping (ü, é)
            text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return " ".join(text.lower().split())


def name_forms(name: str | None, *, family: str | None = None) -> NameForms:
    """Comparable forms of a full name; `family` is the family name when the source has it apart."""
    if not name or not name.strip():
        return NameForms(None, None, None, None)
    text = clean(name)
    hans = _HAN.findall(text)
    if hans:
        hanzi = _simplified("".join(hans))
        mandarin = _key([_mandarin_of_char(c) for c in hanzi])
        canto = _canto_variants("".join(hans))
        fam = _simplified(family.strip()) if family and _HAN.search(family) else hanzi[:1]
        surname = " ".join(_mandarin_of_char(c) for c in fam) if fam else None
        return NameForms(hanzi, mandarin, canto[0] if canto else None, surname, tuple(canto[1:]))
    raw = [s for tok in _LATIN_TOKEN.findall(_loose(text)) for s in _segment(tok)]
    if not raw:
        return NameForms(None, None, None, None)
    pinyin = _pinyin_syllables()
    # Written in Pinyin only when every syllable is one; otherwise it is Wade-Giles (hsiao,
    # chih, tzu...), Cantonese or a Western name, kept as written.
    as_pinyin = all(s in pinyin for s in raw)
    mandarin = _key([_pinyin_to_wg(s) for s in raw] if as_pinyin else raw)
    fam_tokens = _LATIN_TOKEN.findall(_loose(clean(family))) if family else []
    if fam_tokens:
        surname = " ".join(_pinyin_to_wg(s) if as_pinyin and s in pinyin else s for s in fam_tokens)
    else:
        surname = None
    return NameForms(None, mandarin, _key(raw), surname)
