"""PII categories, named masking strategies and the masking policy (role x purpose x category).

The policy is data (`privacy/masking_policy.json`), validated when it is loaded: an unknown
role, purpose, category or strategy stops start-up. Where no rule matches, the field is
redacted (fail closed). Strategies are named objects in an explicit registry and can
describe themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

POLICY_FILE = Path(__file__).with_name("masking_policy.json")


class PiiCategory(StrEnum):
    """Every profile field belongs to exactly one category."""

    CONTACT = "contact"
    GOVERNMENT_ID = "government_id"
    FINANCIAL = "financial"
    LOCATION = "location"
    BIRTH_DATE = "birth_date"
    FREE_TEXT = "free_text"
    NON_PII = "non_pii"


# Trait names whose category is known up front. Matching ignores case and separators
# (`phoneNumber`, `Phone-Number` and `phone_number` are one name); the trait catalog
# (privacy/catalog.py) records the decision per workspace and lets an admin override it.
TRAIT_CATEGORIES: dict[str, PiiCategory] = {
    **dict.fromkeys(("email", "phone", "mobile", "phone_number", "cellphone", "cell_phone", "mobile_phone",
                     "telephone", "tel", "name", "full_name", "first_name", "last_name", "line_user_id", "line_id",
                     "手機", "手机", "電話", "电话", "行動電話", "聯絡電話", "手提電話", "電郵", "電子郵件", "电子邮件",
                     "信箱", "姓名", "名字"), PiiCategory.CONTACT),
    **dict.fromkeys(("national_id", "tw_id", "hkid", "id_number", "passport", "passport_number",
                     "身分證", "身份證", "身分證字號", "身份證號碼", "身份证", "身份证号", "證件號碼", "護照", "护照"),
                    PiiCategory.GOVERNMENT_ID),
    **dict.fromkeys(("card_number", "credit_card", "iban", "bank_account", "信用卡", "卡號", "卡号", "銀行帳號"),
                    PiiCategory.FINANCIAL),
    **dict.fromkeys(("address", "street", "city", "district", "postal_code", "postcode", "zip", "zip_code",
                     "地址", "住址", "通訊地址", "地区", "地區", "郵遞區號", "邮编"), PiiCategory.LOCATION),
    **dict.fromkeys(("birthday", "birth_date", "birthdate", "date_of_birth", "dob", "生日", "出生日期", "出生年月日"),
                    PiiCategory.BIRTH_DATE),
    **dict.fromkeys(("member_tier", "tier", "plan", "language", "locale", "currency", "store_id",
                     "member_since", "signup_channel", "會員等級", "会员等级",
                     # Segment e-commerce properties
                     "order_id", "product_id", "products", "sku", "revenue", "total", "price", "quantity",
                     "category", "coupon", "discount", "shipping", "tax", "brand", "variant", "cart_id",
                     "checkout_id"), PiiCategory.NON_PII),
    **dict.fromkeys(("notes", "note", "comment", "comments", "message", "description", "備註", "备注", "留言"),
                    PiiCategory.FREE_TEXT),
}
# Parts of longer names that give the category away ("home_address", "customer_email", "聯絡手機").
NAME_STEMS: tuple[tuple[str, PiiCategory], ...] = (
    *((s, PiiCategory.GOVERNMENT_ID) for s in ("nationalid", "passport", "hkid", "身分證", "身份證", "身份证")),
    *((s, PiiCategory.FINANCIAL) for s in ("cardnumber", "creditcard", "iban", "bankaccount", "信用卡", "卡號")),
    *((s, PiiCategory.BIRTH_DATE) for s in ("birthday", "birthdate", "dateofbirth", "生日", "出生")),
    *((s, PiiCategory.CONTACT) for s in ("email", "phone", "mobile", "手機", "手机", "電話", "电话", "信箱")),
    *((s, PiiCategory.LOCATION) for s in ("address", "postalcode", "zipcode", "地址", "住址")),
)
_KEY_SEPARATORS = re.compile(r"[\s_\-.:/]+")


def normalize_key(name: str) -> str:
    """A key name folded for matching: NFKC, lower case, no separators."""
    return _KEY_SEPARATORS.sub("", unicodedata.normalize("NFKC", name).lower())


_NAMES: dict[str, PiiCategory] = {normalize_key(k): v for k, v in TRAIT_CATEGORIES.items()}
IDENTIFIER_CATEGORIES: dict[str, PiiCategory] = {
    "email": PiiCategory.CONTACT, "phone": PiiCategory.CONTACT, "line_user_id": PiiCategory.CONTACT,
    "user_id": PiiCategory.NON_PII, "member_id": PiiCategory.NON_PII, "anonymous_id": PiiCategory.NON_PII,
    "device_id": PiiCategory.NON_PII,
}


def category_by_name(name: str) -> PiiCategory | None:
    """The category a key's name gives away (exact name, then a telling part), or None."""
    key = normalize_key(name)
    found = _NAMES.get(key)
    if found is not None:
        return found
    for stem, category in NAME_STEMS:
        if stem in key:
            return category
    return None


def trait_category(name: str) -> PiiCategory:
    """Category of a trait by its name alone; unknown traits count as free text (masked unless allowed).

    The read pipeline asks the trait catalog first, which falls back to this."""
    return category_by_name(name) or PiiCategory.FREE_TEXT


def identifier_category(kind: str) -> PiiCategory:
    """Category of an identifier type; custom types count as contact data."""
    return IDENTIFIER_CATEGORIES.get(kind, PiiCategory.CONTACT)


@dataclass(frozen=True)
class Strategy:
    """A named masking strategy."""

    name: str
    description: str
    apply: Callable[[Any, bytes], Any]


def _partial(value: Any, _key: bytes) -> Any:
    if value is None:
        return None
    text = str(value)
    if "@" in text:
        local, _, domain = text.partition("@")
        return (local[:1] + "***@" + domain) if local else "***@" + domain
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 7 and len(digits) >= len(text) - 4:
        if text.startswith("+886") and len(digits) == 12:
            digits = "0" + digits[3:]
        if len(digits) == 10:  # Taiwan mobile style: 09**-***-678
            return f"{digits[:2]}**-***-{digits[-3:]}"
        return "*" * (len(digits) - 3) + digits[-3:]
    if len(text) <= 2:
        return "*" * len(text)
    return text[0] + "*" * (len(text) - 2) + text[-1]


def _hmac(value: Any, key: bytes) -> Any:
    if value is None:
        return None
    return "h:" + hmac.new(key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()[:24]


STRATEGIES: dict[str, Strategy] = {
    s.name: s for s in (
        Strategy("plain", "value returned unchanged", lambda v, _k: v),
        Strategy("partial", "keeps a hint: first letter of an e-mail, last 3 digits of a number", _partial),
        Strategy("hmac", "keyed HMAC-SHA256 token: joinable, not reversible", _hmac),
        Strategy("redact", "replaced by [REDACTED]", lambda v, _k: None if v is None else "[REDACTED]"),
        Strategy("null", "field returned as null", lambda _v, _k: None),
    )
}


@dataclass(frozen=True)
class MaskingRule:
    """role x purpose x category -> strategy; '*' matches anything."""

    role: str
    purpose: str
    category: str
    strategy: str


class MaskingPolicy:
    """Looks up the strategy for (roles, purpose, category); the most specific rule wins."""

    def __init__(self, rules: list[MaskingRule], *, roles: set[str], purposes: set[str]) -> None:
        for i, r in enumerate(rules):
            where = f"rules[{i}]"
            if r.strategy not in STRATEGIES:
                raise ValueError(f"masking policy {where}: unknown strategy {r.strategy!r}")
            if r.category != "*" and r.category not in {c.value for c in PiiCategory}:
                raise ValueError(f"masking policy {where}: unknown category {r.category!r}")
            if r.role != "*" and r.role not in roles:
                raise ValueError(f"masking policy {where}: unknown role {r.role!r}")
            if r.purpose != "*" and r.purpose not in purposes:
                raise ValueError(f"masking policy {where}: unknown purpose {r.purpose!r}")
        self.rules = rules

    def strategy_for(self, *, roles: tuple[str, ...], purpose: str, category: PiiCategory) -> str:
        """Per role the most specific matching rule; across roles the most revealing; redact if none."""
        order = ["null", "redact", "hmac", "partial", "plain"]
        best: str | None = None
        for role in roles:
            found: tuple[int, str] | None = None
            for r in self.rules:
                if r.role in (role, "*") and r.purpose in (purpose, "*") and r.category in (category.value, "*"):
                    score = (r.role != "*") * 4 + (r.category != "*") * 2 + (r.purpose != "*")
                    if found is None or score > found[0]:
                        found = (score, r.strategy)
            # Several roles: the most revealing grant applies (roles add permissions).
            if found is not None and (best is None or order.index(found[1]) > order.index(best)):
                best = found[1]
        return best or "redact"


def load_masking_policy(*, roles: set[str], purposes: set[str], path: Path | None = None) -> MaskingPolicy:
    """Load and validate the masking policy file."""
    data = json.loads((path or POLICY_FILE).read_text(encoding="utf-8"))
    rules = [MaskingRule(**r) for r in data["rules"]]
    return MaskingPolicy(rules, roles=roles, purposes=purposes)


def mask_value(strategy: str, value: Any, *, key: bytes) -> Any:
    """Apply a named strategy."""
    return STRATEGIES[strategy].apply(value, key)
