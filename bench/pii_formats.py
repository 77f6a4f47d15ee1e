"""Value generators for the generated PII corpus, built from each format's own rules.

Written from the format specifications, not from privacy/recognizers.py: check digits are
computed here (and asserted with python-stdnum where it has a validator), phone numbers
are drawn from allocated ranges (NCC, OFCA, MIIT), and each generator returns one of the
surface forms people type: separators (dash, space, dot), international prefixes (+ and
00), brackets, lower-case letters. Hard negatives are built the same way, several chosen to
pass a PII checksum by chance (EAN-13 barcodes that pass Luhn, product codes that pass the
HKID check), because those are the ones a detector gets wrong.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable

from stdnum import ean, luhn
from stdnum.cn import ric
from stdnum.tw import ubn

Rng = random.Random

TW_LETTERS = dict(zip(string.ascii_uppercase, [
    10, 11, 12, 13, 14, 15, 16, 17, 34, 18, 19, 20, 21, 22, 35, 23, 24, 25, 26, 27, 28, 29,
    32, 30, 31, 33,
]))  # fmt: skip


def digits(rng: Rng, n: int) -> str:
    """n random decimal digits."""
    return "".join(rng.choice(string.digits) for _ in range(n))


def fullwidth(s: str) -> str:
    """ASCII to full-width forms (same length, so offsets are unchanged)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


# --- identity numbers -------------------------------------------------------------------


def tw_id_check(body9: str) -> str:
    """Last digit that makes letter + 9 digits pass the Taiwan ID checksum."""
    v = TW_LETTERS[body9[0]]
    nums = [v // 10, v % 10] + [int(c) for c in body9[1:]]
    total = sum(n * w for n, w in zip(nums, [1, 9, 8, 7, 6, 5, 4, 3, 2, 1]))
    return str((10 - total % 10) % 10)


def tw_id(rng: Rng, valid: bool = True) -> str:
    """Taiwan national ID (sex digit 1/2) or 2021 resident certificate (8/9)."""
    body = rng.choice(string.ascii_uppercase) + rng.choice("12121212121289") + digits(rng, 7)
    check = tw_id_check(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    value = body + check
    return value.lower() if rng.random() < 0.25 else value


def hk_check(letters: str, six: str) -> str:
    """HKID check character: weights 9..2 over (36 or letter), letter, six digits; mod 11."""
    vals = ([36] if len(letters) == 1 else []) + [ord(c) - 55 for c in letters]
    vals += [int(c) for c in six]
    total = sum(v * w for v, w in zip(vals, [9, 8, 7, 6, 5, 4, 3, 2]))
    c = (11 - total % 11) % 11
    return "A" if c == 10 else str(c)


def hk_id(rng: Rng, valid: bool = True) -> str:
    """HKID in one of its typed forms: A123456(3), A123456（3）, A1234563, a123456 (3)."""
    letters = rng.choice(string.ascii_uppercase)
    if rng.random() < 0.15:
        letters = rng.choice("WXYZ") + letters
    six = digits(rng, 6)
    check = hk_check(letters, six)
    if not valid:
        check = rng.choice([c for c in "0123456789" if c != check])
    if rng.random() < 0.25:
        letters, check = letters.lower(), check.lower()
    form = rng.choice(["({})", "({})", "（{}）", "[{}]", "{}", " ({})"])
    return letters + six + form.format(check)


CN_REGIONS = ["110101", "110105", "120101", "130102", "210102", "310104", "310115", "320102",
              "330106", "350203", "370102", "410105", "420106", "430102", "440103", "440305",
              "450103", "500103", "510104", "530102", "610113"]  # fmt: skip


def cn_id(rng: Rng, valid: bool = True) -> str:
    """PRC resident ID: region, birth date, sequence, ISO 7064 mod 11-2 check."""
    while True:
        body = (rng.choice(CN_REGIONS) + f"{rng.randint(1950, 2006)}{rng.randint(1, 12):02d}"
                f"{rng.randint(1, 28):02d}" + digits(rng, 3))  # fmt: skip
        check = (1 - 2 * int(body, 13)) % 11
        number = body + ("X" if check == 10 else str(check))
        if ric.is_valid(number):
            break
    if not valid:
        return number[:-1] + rng.choice([c for c in "0123456789X" if c != number[-1]])
    if number.endswith("X") and rng.random() < 0.4:
        number = number[:-1] + "x"
    return f"{number[:6]} {number[6:14]} {number[14:]}" if rng.random() < 0.1 else number


def card(rng: Rng, valid: bool = True) -> str:
    """Payment card: issuer prefix and length per brand, Luhn check, typed groupings."""
    kind = rng.choice(["visa", "visa", "mc", "mc2", "amex", "jcb", "unionpay", "unionpay19"])
    prefix, length = {
        "visa": ("4" + digits(rng, 5), 16), "mc": (str(rng.randint(51, 55)) + digits(rng, 4), 16),
        "mc2": (str(rng.randint(2221, 2720)) + digits(rng, 2), 16),
        "amex": (rng.choice(["34", "37"]) + digits(rng, 4), 15),
        "jcb": (str(rng.randint(3528, 3589)) + digits(rng, 2), 16),
        "unionpay": ("62" + digits(rng, 4), 16), "unionpay19": ("62" + digits(rng, 4), 19),
    }[kind]  # fmt: skip
    body = prefix + digits(rng, length - len(prefix) - 1)
    number = body + luhn.calc_check_digit(body)
    if not valid:
        number = body + str((int(number[-1]) + rng.randint(1, 9)) % 10)
    assert luhn.is_valid(number) is valid
    sep = rng.choice(["", "", " ", "-"])
    if not sep:
        return number
    if length == 15:
        return sep.join([number[:4], number[4:10], number[10:]])
    groups = [number[i : i + 4] for i in range(0, 16, 4)]
    return sep.join(groups + ([number[16:]] if length == 19 else []))


# --- phones -----------------------------------------------------------------------------


def _grouped(groups: list[str], rng: Rng) -> str:
    return rng.choice(["-", " ", ".", "", "-"]).join(groups)


def tw_mobile(rng: Rng) -> str:
    """09xx mobiles (NCC allocates 0900-0989), local or +886/00886."""
    n = "09" + rng.choice("0123456789"[:9]) + digits(rng, 7)
    local = rng.choice([n, n, _grouped([n[:4], n[4:7], n[7:]], rng), f"{n[:4]}-{n[4:]}"])
    intl = _grouped([n[1:4], n[4:7], n[7:]], rng)
    return rng.choice([
        local, local, local, f"+886 {intl}", f"+886-{intl}", f"+886{n[1:]}",
        f"00886 {n[1:]}", f"00886-{intl}", f"+886 (0){n[1:]}", f"+886 {n}", f"886-{intl}",
    ])  # fmt: skip


TW_AREAS = [("02", 8, "235678"), ("03", 7, "345689"), ("037", 6, "2346"), ("04", 8, "2"),
            ("04", 7, "78"), ("049", 7, "2"), ("05", 7, "2357"), ("06", 7, "2356"),
            ("07", 7, "2356"), ("08", 7, "7"), ("089", 6, "3")]  # fmt: skip


def tw_land(rng: Rng) -> str:
    """Taiwan landlines: area code + 6-8 digit local number, bracketed or separated."""
    area, n, first = rng.choice(TW_AREAS)
    local = rng.choice(first) + digits(rng, n - 1)
    half = {8: 4, 7: 3, 6: 2}[n]
    a, b = local[:half], local[half:]
    return rng.choice([
        f"{area}-{a}-{b}", f"{area}-{local}", f"({area}){a}-{b}", f"({area}) {a} {b}",
        f"{area} {a} {b}", f"{area}.{a}.{b}", f"+886-{area[1:]}-{a}-{b}", f"+886 {area[1:]} {local}",
        f"00886 {area[1:]} {a} {b}",
    ])  # fmt: skip


HK_MOBILE = ["51", "52", "53", "54", "55", "56", "59", "60", "61", "62", "63", "64", "65", "66",
             "67", "68", "69", "70", "71", "72", "73", "90", "91", "92", "93", "94", "95", "96",
             "97", "98"]  # fmt: skip


def hk_phone(rng: Rng, landline: bool = False) -> str:
    """Hong Kong 8-digit numbers (OFCA: mobiles 5/6/7/9, fixed lines 2/3)."""
    n = (rng.choice("23") if landline else rng.choice(HK_MOBILE)) + digits(
        rng, 8 - (1 if landline else 2)
    )
    local = rng.choice([n, n, _grouped([n[:4], n[4:]], rng)])
    return rng.choice([
        local, local, local, f"+852 {n[:4]} {n[4:]}", f"+852-{n}", f"(852) {n[:4]} {n[4:]}",
        f"+852{n}", f"00852 {n}", f"(+852) {n[:4]}-{n[4:]}", f"852-{n}",
    ])  # fmt: skip


CN_PREFIXES = ["130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "145",
               "147", "150", "151", "152", "153", "155", "156", "157", "158", "159", "166",
               "173", "175", "176", "177", "178", "180", "181", "182", "183", "185", "186",
               "187", "188", "189", "191", "193", "195", "198", "199"]  # fmt: skip


def cn_phone(rng: Rng) -> str:
    """Mainland mobiles (MIIT 1[3-9]x blocks), local, +86, 0086 or (+86)."""
    n = rng.choice(CN_PREFIXES) + digits(rng, 8)
    local = rng.choice([n, n, n, _grouped([n[:3], n[3:7], n[7:]], rng)])
    return rng.choice([local, local, local, f"+86 {local}", f"+86-{n[:3]}-{n[3:7]}-{n[7:]}",
                       f"(+86){n}", f"0086 {n}", f"+86{n}", f"86-{n}"])  # fmt: skip


# --- e-mail, network, misc --------------------------------------------------------------

LOCALS = ["amy", "kevin", "wei.chen", "jason_lin", "mei", "tony.wong", "ivy", "Chris.Ho",
          "xiaoming", "hsu.yc", "peggy", "ken.lau", "zhang.wei", "lily88", "alex+shop",
          "ChanTaiMan", "s1234567", "huang-jy", "service", "lin.meiling"]  # fmt: skip
DOMAINS = ["gmail.com", "yahoo.com.tw", "hotmail.com", "outlook.com", "qq.com", "163.com",
           "netvigator.com", "example.com.hk", "mail.example.co.uk", "ms1.hinet.net",
           "icloud.com", "126.com", "company.cn", "seed.net.tw"]  # fmt: skip


def email(rng: Rng) -> str:
    """Local part (dots, plus tags, digits, capitals) @ a regional domain."""
    local = rng.choice(LOCALS) + rng.choice(["", "", str(rng.randint(1, 99))])
    if rng.random() < 0.1:
        local = digits(rng, 9)  # QQ-style numeric mailbox
    return f"{local}@{rng.choice(DOMAINS)}"


def ip(rng: Rng) -> str:
    """Public IPv4 or IPv6 (full or compressed)."""
    if rng.random() < 0.3:
        groups = [f"{rng.randint(1, 0xFFFF):x}" for _ in range(8)]
        head = rng.choice(["2001", "2402", "240e", "2404"])
        if rng.random() < 0.5:
            return ":".join([head, *groups[1:]])
        return f"{head}:{groups[1]}:{groups[2]}::{groups[3]}"
    return ".".join(str(x) for x in (rng.choice([1, 36, 59, 61, 101, 114, 118, 203, 220]),
                                     rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)))  # fmt: skip


def line_id(rng: Rng) -> str:
    """LINE user id: U + 32 lower-case hex characters."""
    return "U" + "".join(rng.choice("0123456789abcdef") for _ in range(32))


def dob(rng: Rng) -> str:
    """A birth date in one of the forms used in TW/HK/PRC/English notes (ROC years too)."""
    y, m, d = rng.randint(1940, 2006), rng.randint(1, 12), rng.randint(1, 28)
    roc = y - 1911
    mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    return rng.choice([
        f"{y}-{m:02d}-{d:02d}", f"{y}/{m}/{d}", f"{y}年{m}月{d}日", f"{d:02d}/{m:02d}/{y}",
        f"民國{roc}年{m}月{d}日", f"{roc}年{m}月{d}日", f"{roc}/{m:02d}/{d:02d}", f"{y}.{m:02d}.{d:02d}",
        f"{d} {mon[m - 1]} {y}", f"{mon[m - 1]} {d}, {y}", f"{y}{m:02d}{d:02d}", f"{roc}.{m}.{d}",
        f"{roc:03d}{m:02d}{d:02d}", f"{roc:03d}/{m:02d}/{d:02d}",
    ])  # fmt: skip


# --- hard negatives -----------------------------------------------------------------------


def order_no(rng: Rng) -> str:
    """Order numbers, some shaped like phones (09…, 1[3-9]…, 8 digits)."""
    return rng.choice([
        "2025" + digits(rng, 10), f"ORD-2025-{rng.randint(1, 12):02d}-{digits(rng, 6)}",
        "TB" + digits(rng, 16), "1" + digits(rng, 18), "SO" + digits(rng, 9),
        "09" + digits(rng, 8), rng.choice(CN_PREFIXES) + digits(rng, 8), rng.choice("5679") + digits(rng, 7),
    ])  # fmt: skip


def tracking_no(rng: Rng) -> str:
    """Carrier tracking numbers (SF, YTO, JD, Chunghwa Post, black cat, Kerry)."""
    return rng.choice([
        "SF" + digits(rng, 13), "YT" + digits(rng, 13), "JD00" + digits(rng, 11),
        f"{digits(rng, 4)}-{digits(rng, 4)}-{digits(rng, 4)}", "RR" + digits(rng, 9) + "TW",
        digits(rng, 12), "75" + digits(rng, 12),
    ])  # fmt: skip


def invoice_no(rng: Rng) -> str:
    """Taiwan e-invoice numbers (2 letters + 8 digits) and generic invoice ids."""
    letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(2))
    return rng.choice(
        [f"{letters}-{digits(rng, 8)}", f"{letters}{digits(rng, 8)}", f"INV-{digits(rng, 6)}"]
    )


def ubn_no(rng: Rng) -> str:
    """統一編號 with a valid checksum."""
    while True:
        n = rng.choice("2345689") + digits(rng, 7)
        if ubn.is_valid(n):
            return n


def barcode(rng: Rng) -> str:
    """EAN-13 with Taiwan's GS1 prefix 471; half of them also pass Luhn, like a 13-digit Visa."""
    want_luhn = rng.random() < 0.5
    while True:
        body = "471" + digits(rng, 9)
        code = body + ean.calc_check_digit(body)
        if luhn.is_valid(code) == want_luhn:
            return code


def product_code(rng: Rng) -> str:
    """SKUs and item codes; the letter + 7 digit ones pass the HKID check."""
    while rng.random() < 0.6:
        letter, six = rng.choice(string.ascii_uppercase), digits(rng, 6)
        check = hk_check(letter, six)
        if check != "A":
            return letter + six + check
    return rng.choice([f"SKU-{digits(rng, 5)}-{rng.choice(['BLK', 'WHT', 'M', 'XL'])}",
                       f"{rng.choice('ABCDEFGH')}{digits(rng, 9)}", f"P{digits(rng, 7)}"])  # fmt: skip


def version(rng: Rng) -> str:
    """Software versions with four (IP-shaped) or three parts."""
    parts = [rng.randint(1, 20), rng.randint(0, 12), rng.randint(0, 30), rng.randint(0, 250)]
    return ".".join(str(p) for p in (parts if rng.random() < 0.8 else parts[:3]))


def price(rng: Rng) -> str:
    """Prices in TWD/HKD/RMB/USD notations."""
    return rng.choice([f"NT${rng.randint(1, 99)},{digits(rng, 3)}", f"HK$ {rng.randint(100, 9999)}",
                       f"¥{rng.randint(10, 9999)}.00", f"${rng.randint(5, 999)}.{digits(rng, 2)}",
                       f"{rng.randint(1, 99)},{digits(rng, 3)}元", f"RMB {rng.randint(1000, 99999)}"])  # fmt: skip


def plain_date(rng: Rng) -> str:
    """Dates that are not birth dates (delivery, orders, appointments)."""
    m, d = rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice([f"2025-{m:02d}-{d:02d}", f"2025/{m}/{d}", f"2025年{m}月{d}日", f"{m}/{d}",
                       f"{d:02d}/{m:02d}/2025", f"114年{m}月{d}日", f"114/{m:02d}/{d:02d}"])  # fmt: skip


def postal_code(rng: Rng) -> str:
    """Taiwan 3+2/3+3 and PRC 6-digit postal codes."""
    return rng.choice([f"{rng.randint(100, 983)}{digits(rng, 2)}", f"{rng.randint(100, 983)}{digits(rng, 3)}",
                       f"{rng.randint(10, 85)}0{digits(rng, 3)}"])  # fmt: skip


def otp(rng: Rng) -> str:
    """One-time codes and PINs."""
    return digits(rng, rng.choice([4, 6, 6, 8]))


def member_no(rng: Rng) -> str:
    """Membership numbers: 8 digits (HK-mobile-like) or 10 digits starting 09."""
    return rng.choice(
        [rng.choice("5679") + digits(rng, 7), "09" + digits(rng, 8), "M" + digits(rng, 7)]
    )


NEGATIVES: dict[str, Callable[[Rng], str]] = {
    "order_no": order_no, "tracking_no": tracking_no, "invoice_no": invoice_no, "ubn": ubn_no,
    "barcode": barcode, "product_code": product_code, "version": version, "price": price,
    "date": plain_date, "postal_code": postal_code, "otp": otp, "member_no": member_no,
    "bad_tw_id": lambda r: tw_id(r, False), "bad_hk_id": lambda r: hk_id(r, False),
    "bad_cn_id": lambda r: cn_id(r, False), "bad_card": lambda r: card(r, False),
}  # fmt: skip

ENTITIES: dict[str, tuple[Callable[[Rng], str], str]] = {
    "tw_id": (tw_id, "TW_NATIONAL_ID"), "hk_id": (hk_id, "HK_ID"), "cn_id": (cn_id, "CN_RESIDENT_ID"),
    "tw_mobile": (tw_mobile, "TW_PHONE"), "tw_land": (tw_land, "TW_PHONE"),
    "hk_phone": (hk_phone, "HK_PHONE"), "hk_land": (lambda r: hk_phone(r, True), "HK_PHONE"),
    "cn_phone": (cn_phone, "CN_PHONE"), "email": (email, "EMAIL_ADDRESS"), "card": (card, "CREDIT_CARD"),
    "ip": (ip, "IP_ADDRESS"), "line_id": (line_id, "LINE_USER_ID"), "dob": (dob, "BIRTH_DATE"),
}  # fmt: skip
