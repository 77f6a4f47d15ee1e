"""Synthetic Taiwan / Hong Kong customers with realistic duplicates and hard negatives.

A labelled set for tests and benchmarks: each person gets an original record and maybe
duplicates with the errors our customers' data really has (Simplified vs Traditional
characters, Wade-Giles / Pinyin / HK romanisations, a digit off or two digits swapped in a
phone, day and month swapped, e-mail local-part typos, partial addresses). Hard negatives are
siblings sharing an address and home phone, and fathers and sons with the same name.
Deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from resolution.features import row_from_fields

SURNAMES = "陳林黃張李王吳劉蔡楊許鄭謝郭洪曾邱廖賴周徐蘇葉莊呂江何蕭羅高潘簡朱鍾彭游詹胡施沈余盧梁趙顏柯翁魏孫戴"
GIVEN = "志明偉家豪俊傑建宏文雅婷怡君美玲淑芬慧佳欣宇軒子涵詩嘉曉小國強華德信義仁安平榮勝昌麗珍惠秀蘭鳳"
TW_CITIES = ["台北市", "新北市", "桃園市", "台中市", "台南市", "高雄市", "新竹市", "基隆市"]
HK_CITIES = ["九龍", "香港島", "新界", "沙田", "荃灣", "觀塘"]
ROADS = ["中山路", "中正路", "民生路", "復興路", "光明街", "和平東路", "忠孝東路", "彌敦道", "皇后大道", "德輔道"]
DOMAINS = ["gmail.com", "yahoo.com.tw", "hotmail.com", "outlook.com", "netvigator.com"]


@dataclass
class Person:
    """One real customer."""

    pid: int
    region: str
    name: str
    dob: date
    phone: str
    email: str
    address: str
    city: str
    records: list[dict[str, Any]] = field(default_factory=list)


def _romanise(name: str, region: str, rng: random.Random) -> str:
    from pypinyin import Style, lazy_pinyin

    from resolution.names import _canto_of_char

    if region == "HK":
        syl = [_canto_of_char(c)[0].capitalize() for c in name]
        return " ".join(syl)
    style = Style.WADEGILES if rng.random() < 0.6 else Style.NORMAL
    syl = [s.replace("'", "") if rng.random() < 0.7 else s for s in lazy_pinyin(name, style=style)]
    family, given = syl[0].capitalize(), syl[1:]
    given_text = ("-".join(given) if style == Style.WADEGILES else "".join(given)).capitalize()
    return f"{family} {given_text}" if rng.random() < 0.7 else f"{given_text} {family}"


def _typo(text: str, rng: random.Random, alphabet: str = "abcdefghijklmnopqrstuvwxyz") -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    op = rng.random()
    if op < 0.3:
        return text[:i] + text[i + 1:]
    if op < 0.6:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    return text[:i] + rng.choice(alphabet) + text[i + 1:]


def _phone_error(phone: str, rng: random.Random) -> str:
    digits = list(phone)
    i = rng.randrange(len(digits) - 6, len(digits) - 1)
    if rng.random() < 0.5:
        digits[i], digits[i + 1] = digits[i + 1], digits[i]
    else:
        digits[i] = str((int(digits[i]) + rng.randrange(1, 9)) % 10)
    return "".join(digits)


def _dob_text(d: date, rng: random.Random, *, swap: bool = False) -> str:
    if swap and d.day <= 12 and d.day != d.month:
        d = date(d.year, d.day, d.month)
    return rng.choice([d.isoformat(), d.strftime("%Y/%m/%d"), d.strftime("%d/%m/%Y")])


def _person(pid: int, rng: random.Random) -> Person:
    region = "TW" if rng.random() < 0.7 else "HK"
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(2 if rng.random() < 0.9 else 1))
    dob = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
    if region == "TW":
        phone = "09" + "".join(str(rng.randrange(10)) for _ in range(8))
        city = rng.choice(TW_CITIES)
    else:
        phone = "+852" + rng.choice("5689") + "".join(str(rng.randrange(10)) for _ in range(7))
        city = rng.choice(HK_CITIES)
    local = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(5, 9)))
    email = f"{local}{rng.randrange(10, 999)}@{rng.choice(DOMAINS)}"
    address = f"{city}{rng.choice(ROADS)}{rng.randrange(1, 400)}號{rng.randrange(1, 20)}樓"
    return Person(pid, region, name, dob, phone, email, address, city)


def _record(p: Person, uid: str, rng: random.Random, *, dup: bool) -> dict[str, Any]:
    """Raw field values of one record of a person (a duplicate carries errors)."""
    from resolution.names import _simplified

    name: str | None = p.name
    phone: str | None = p.phone
    email: str | None = p.email
    address: str | None = p.address
    dob_text: str | None = p.dob.isoformat()
    if dup:
        r = rng.random()
        if r < 0.35:
            name = _romanise(p.name, p.region, rng)
        elif r < 0.55:
            name = _simplified(p.name)
        if rng.random() < 0.25:
            phone = _phone_error(p.phone, rng)
        elif rng.random() < 0.2:
            phone = None
        r = rng.random()
        dob_text = _dob_text(p.dob, rng, swap=r < 0.2) if r < 0.85 else None
        r = rng.random()
        if r < 0.25:
            local, _, domain = p.email.partition("@")
            email = f"{_typo(local, rng)}@{domain}"
        elif r < 0.45:
            email = None
        r = rng.random()
        if r < 0.3:
            address = None
        elif r < 0.5:
            address = _typo(p.address, rng, alphabet="0123456789")
    return {"uid": uid, "name": name, "dob": dob_text, "email": email, "phone": phone, "address": address,
            "city": p.city, "region": p.region}


def synth_records(n: int, *, seed: int = 7, dup_rate: float = 0.3,
                  hard_negative_rate: float = 0.05) -> tuple[list[dict[str, Any]], set[tuple[str, str]]]:
    """About n raw records (uid, name, dob, email, phone, address, city, region) and the true pairs."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    owner: dict[str, int] = {}
    pid = 0
    while len(rows) < n:
        p = _person(pid, rng)
        pid += 1
        people = [p]
        r = rng.random()
        if r < hard_negative_rate:  # a sibling: same family name, address and home phone
            sib = _person(pid, rng)
            pid += 1
            sib.name = p.name[0] + "".join(rng.choice(GIVEN) for _ in range(len(p.name) - 1))
            sib.address, sib.phone, sib.city, sib.region = p.address, p.phone, p.city, p.region
            people.append(sib)
        elif r < 2 * hard_negative_rate:  # father and son with the same name
            son = _person(pid, rng)
            pid += 1
            son.name, son.address, son.phone, son.city, son.region = p.name, p.address, p.phone, p.city, p.region
            son.dob = p.dob + timedelta(days=rng.randrange(365 * 22, 365 * 38))
            people.append(son)
        for person in people:
            copies = 1 + (rng.choice([1, 1, 1, 2, 3]) if rng.random() < dup_rate else 0)
            for k in range(copies):
                uid = f"s{person.pid}-{k}"
                rows.append(_record(person, uid, rng, dup=k > 0))
                owner[uid] = person.pid
    by_person: dict[int, list[str]] = {}
    for uid, pid_ in owner.items():
        by_person.setdefault(pid_, []).append(uid)
    truth = {(min(a, b), max(a, b)) for ids in by_person.values() for i, a in enumerate(ids) for b in ids[i + 1:]}
    return rows, truth


def synth(n: int, *, seed: int = 7, dup_rate: float = 0.3,
          hard_negative_rate: float = 0.05) -> tuple[list[dict[str, Any]], set[tuple[str, str]], dict[str, list[str]]]:
    """About n matching rows: (rows, true duplicate pairs, each row's exact identifiers for the baseline)."""
    records, truth = synth_records(n, seed=seed, dup_rate=dup_rate, hard_negative_rate=hard_negative_rate)
    rows = [row_from_fields(r["uid"], name=r["name"], dob=r["dob"], email=r["email"], phone=r["phone"],
                            address=r["address"], city=r["city"], region=r["region"]) for r in records]
    idents = {r["unique_id"]: [f"e:{r['email']}" if r["email"] else "", f"p:{r['phone']}" if r["phone"] else ""]
              for r in rows}
    return rows, truth, idents
