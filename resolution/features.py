"""From a profile's traits and identifiers to one flat matching row (in memory only).

The row holds normalised values the comparisons need; it never leaves the matching job. Field
names and their sources are data (`TRAIT_SOURCES`), so an admin's extra traits can be added.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import phonenumbers

from resolution.names import clean, name_forms

COLUMNS = ("unique_id", "name_hanzi", "name_mandarin", "name_cantonese", "name_forms", "surname",
           "dob", "email", "email_local", "email_domain", "phone", "address", "city", "postcode")

# Which traits feed which field (first non-empty wins), case- and separator-insensitive.
TRAIT_SOURCES: dict[str, tuple[str, ...]] = {
    "name": ("name", "full_name", "fullname", "姓名", "chinese_name", "english_name"),
    "first_name": ("first_name", "firstname", "given_name", "名"),
    "last_name": ("last_name", "lastname", "surname", "family_name", "姓"),
    "dob": ("birthday", "birth_date", "birthdate", "date_of_birth", "dob", "生日", "出生日期"),
    "email": ("email", "e_mail", "電子郵件"),
    "phone": ("phone", "mobile", "mobile_phone", "phone_number", "home_phone", "tel", "手機", "電話"),
    "address": ("address", "street", "address_line1", "home_address", "shipping_address", "地址"),
    "city": ("city", "suburb", "district", "城市"),
    "postcode": ("postcode", "postal_code", "zip", "zipcode", "郵遞區號"),
}
_KEY_NOISE = re.compile(r"[\s_\-.]+")
_DIGITS = re.compile(r"\d+")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_TW_MOBILE = re.compile(r"^09\d{8}$")


def _norm_key(key: str) -> str:
    return _KEY_NOISE.sub("_", clean(key)).strip("_")


def _first(traits: Mapping[str, Any], names: Iterable[str]) -> str | None:
    for n in names:
        v = traits.get(n)
        if isinstance(v, (str, int)) and str(v).strip():
            return str(v).strip()
    return None


def normalize_dob(value: str | None) -> str | None:
    """ISO date (YYYY-MM-DD) from the common written forms, None when it is no date.

    Day-first and month-first strings are read as written (year first, else day/month/year as
    in Taiwan and Hong Kong forms); a day/month swap is left for the comparison to recognise.
    """
    if not value:
        return None
    parts = _DIGITS.findall(clean(value))
    if len(parts) == 1 and len(parts[0]) == 8:
        p = parts[0]
        parts = [p[:4], p[4:6], p[6:]] if p[:2] in ("19", "20") else [p[4:], p[2:4], p[:2]]
    if len(parts) < 3:
        return None
    a, b, c = parts[:3]
    if len(a) == 4:
        y, m, d = int(a), int(b), int(c)
    elif len(c) == 4:
        y, m, d = int(c), int(b), int(a)
    elif len(a) <= 3 and int(a) < 200:  # ROC (Minguo) year, e.g. 80/05/17 or 080.05.17
        y, m, d = int(a) + 1911, int(b), int(c)
    else:
        return None
    for mm, dd in ((m, d), (d, m)):
        try:
            return date(y, mm, dd).isoformat()
        except ValueError:
            continue
    return None


def normalize_phone(value: str | None, *, region: str = "TW") -> str | None:
    """E.164 digits without '+' for a parseable number; digits only when not parseable."""
    if not value:
        return None
    # Fast paths (most values): stored identifiers are already E.164; TW mobiles as dialled.
    if _E164.match(value):
        return value[1:]
    if region == "TW" and _TW_MOBILE.match(value):
        return "886" + value[1:]
    try:
        parsed = phonenumbers.parse(value, region)
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)[1:]
    except phonenumbers.NumberParseException:
        pass
    digits = "".join(_DIGITS.findall(value))
    return digits if len(digits) >= 7 else None


def split_email(value: str | None) -> tuple[str | None, str | None, str | None]:
    """(address, local part without +tag, domain), lower-cased."""
    if not value or "@" not in value:
        return None, None, None
    v = clean(value).replace(" ", "")
    local, _, domain = v.rpartition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    if not local or not domain:
        return None, None, None
    return f"{local}@{domain}", local, domain


def normalize_text(value: str | None) -> str | None:
    """Addresses and cities: NFKC, lower case, Simplified characters, punctuation to spaces."""
    if not value:
        return None
    from resolution.names import _simplified

    text = _simplified(clean(value))
    text = re.sub(r"[,.;:#/\\()\-]+", " ", text)
    text = " ".join(text.split())
    return text or None


def row_from_fields(uid: str, *, name: str | None = None, first_name: str | None = None,
                    last_name: str | None = None, dob: str | None = None, email: str | None = None,
                    phone: str | None = None, address: str | None = None, city: str | None = None,
                    postcode: str | None = None, region: str = "TW") -> dict[str, Any]:
    """One matching row from raw field values."""
    full = name or " ".join(p for p in (first_name, last_name) if p) or None
    forms = name_forms(full, family=last_name)
    addr, local, domain = split_email(email)
    pc = "".join(_DIGITS.findall(postcode)) if postcode else None
    return {
        "unique_id": uid, "name_hanzi": forms.hanzi, "name_mandarin": forms.mandarin,
        "name_cantonese": forms.cantonese, "name_forms": forms.forms or None, "surname": forms.surname,
        "dob": normalize_dob(dob), "email": addr, "email_local": local, "email_domain": domain,
        "phone": normalize_phone(phone, region=region), "address": normalize_text(address),
        "city": normalize_text(city), "postcode": pc or None,
    }


def row_from_profile(uid: str, traits: Mapping[str, Any], identifiers: Iterable[tuple[str, str]], *,
                     region: str = "TW") -> dict[str, Any]:
    """One matching row from a profile's opened traits and identifiers (identifiers fill gaps)."""
    normalised = {_norm_key(k): v for k, v in traits.items()}
    found = {field: _first(normalised, names) for field, names in TRAIT_SOURCES.items()}
    idents = dict(identifiers)
    found["email"] = found["email"] or idents.get("email")
    found["phone"] = found["phone"] or idents.get("phone")
    return row_from_fields(uid, region=region, **found)
