"""Recognizers and scan_text: checksums, CJK adjacency, full-width offsets, hard negatives."""

from __future__ import annotations

import dataclasses
import random
import unicodedata

import pytest

from privacy.detection import PiiFinding, contains_pii, normalize, scan_text
from privacy.recognizers import hk_id_is_valid, parse_birth_date, tw_id_is_valid


def found(text: str, **kwargs: object) -> list[tuple[str, str]]:
    """(entity type, matched original text) pairs, in order."""
    return [(f.entity_type, f.text) for f in scan_text(text, **kwargs)]  # type: ignore[arg-type]


# --- checksum functions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("A123456789", True),  # REFERENCE.md example
        ("A123456788", False),
        ("A800000014", True),  # 2021 resident certificate, second char 8
        ("A900000016", True),
        ("A900000017", False),
        ("a123456789", False),  # the checksum takes upper case; the recognizer upper-cases
        ("A323456789", False),  # second char must be 1, 2, 8 or 9
    ],
)
def test_tw_id_checksum(value: str, ok: bool) -> None:
    assert tw_id_is_valid(value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("A123456(3)", True),  # REFERENCE.md example
        ("A1234563", True),
        ("A123456[3]", True),
        ("G123456(A)", True),  # check value 10 -> A (hand-computed)
        ("AB987654(3)", True),  # two letters (hand-computed)
        ("A123456(4)", False),
        ("AB987654(2)", False),
    ],
)
def test_hk_id_checksum(value: str, ok: bool) -> None:
    assert hk_id_is_valid(value) is ok


# --- each recognizer: valid inside Chinese text, and its checksum-invalid twin --------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("身分證A123456789請查詢", ("TW_NATIONAL_ID", "A123456789")),
        ("居留證A800000014已驗證", ("TW_NATIONAL_ID", "A800000014")),
        ("我嘅身份證係A123456(3)唔該", ("HK_ID", "A123456(3)")),
        ("香港身份證G123456A", ("HK_ID", "G123456A")),
        ("身份证号11010519491231002X谢谢", ("CN_RESIDENT_ID", "11010519491231002X")),
        ("身份证11010519491231002x", ("CN_RESIDENT_ID", "11010519491231002x")),
        ("手機0912345678謝謝", ("TW_PHONE", "0912345678")),
        ("電話0912-345-678", ("TW_PHONE", "0912-345-678")),
        ("請撥+886 912 345 678找我", ("TW_PHONE", "+886 912 345 678")),
        ("公司電話(02)2345-6789分機", ("TW_PHONE", "(02)2345-6789")),
        ("市話02-2345-6789轉客服", ("TW_PHONE", "02-2345-6789")),
        ("總機+886-2-2345-6789", ("TW_PHONE", "+886-2-2345-6789")),
        ("電話91234567搵我", ("HK_PHONE", "91234567")),
        ("手提+852 6123 4567", ("HK_PHONE", "+852 6123 4567")),
        ("手机13812345678联系", ("CN_PHONE", "13812345678")),
        ("电话+86 138 1234 5678", ("CN_PHONE", "+86 138 1234 5678")),
        (
            "LINE用戶U4af4980629f5e7b1b2c3d4e5f6a7b8c9傳訊",
            ("LINE_USER_ID", "U4af4980629f5e7b1b2c3d4e5f6a7b8c9"),
        ),
        ("請寄到amy.chen+vip@gmail.com謝謝", ("EMAIL_ADDRESS", "amy.chen+vip@gmail.com")),
        ("信箱ken@netvigator.com。", ("EMAIL_ADDRESS", "ken@netvigator.com")),
        ("卡號4111111111111111到期", ("CREDIT_CARD", "4111111111111111")),
        ("信用卡4111-1111-1111-1111", ("CREDIT_CARD", "4111-1111-1111-1111")),
        ("美國運通3782 822463 10005刷卡", ("CREDIT_CARD", "3782 822463 10005")),
        ("銀聯卡6212345678901234569付款", ("CREDIT_CARD", "6212345678901234569")),
        ("匯款GB82WEST12345698765432請確認", ("IBAN_CODE", "GB82WEST12345698765432")),
        ("IP為192.168.1.10的伺服器", ("IP_ADDRESS", "192.168.1.10")),
        ("位址2001:db8::1異常", ("IP_ADDRESS", "2001:db8::1")),
        ("生日1990年3月12日", ("BIRTH_DATE", "1990年3月12日")),
        ("出生日期：民國79年5月12日", ("BIRTH_DATE", "民國79年5月12日")),
        ("DOB 12/03/1990", ("BIRTH_DATE", "12/03/1990")),
        ("Date of birth: 12 March 1990", ("BIRTH_DATE", "12 March 1990")),
    ],
)
def test_valid_entity_adjacent_to_cjk(text: str, expected: tuple[str, str]) -> None:
    assert found(text) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "身分證A123456788請查詢",  # TW checksum fails
        "身分證B123456789",  # same digits, other letter: checksum fails
        "身份證A123456(4)",  # HK check digit wrong
        "身份证号110105194912310021",  # PRC check character wrong
        "身份证号110105194913310028",  # month 13
        "卡號4111111111111112到期",  # Luhn fails
        "卡號2024112500012345",  # no card issuer uses a 20xx prefix
        "匯款GB82WEST12345698765433",  # IBAN mod-97 fails
        "IP為999.168.1.10",
        "手机14012345678",  # 140 is not a mobile range
        "電話41234567",  # HK mobiles start 5/6/7/9
        "LINE用戶U4AF4980629F5E7B1B2C3D4E5F6A7B8C9",  # LINE IDs are lower-case hex
        "請寄到amy@example.notarealtld",
    ],
)
def test_checksum_or_format_invalid_is_not_reported(text: str) -> None:
    assert found(text) == []


def test_letter_case_is_deliberate() -> None:
    # People type ID letters in lower case; the checksum runs on the upper-cased value.
    assert found("身分證a123456789") == [("TW_NATIONAL_ID", "a123456789")]
    assert found("身份證a123456(3)") == [("HK_ID", "a123456(3)")]
    assert found("身分證a123456788") == []
    # LINE ids are "U" + lower-case hex: the case is part of the format.
    assert found("line uid u4af4980629f5e7b1b2c3d4e5f6a7b8c9") == []


# --- hard negatives -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "訂單編號 20241125000123 已出貨",
        "訂單編號20241125000123",
        "Order ORD-2024-11-000123 shipped",
        "發票號碼 AB-12345678，金額 NT$1,280",
        "電子發票AB12345678",
        "順豐單號 SF1234567890123",
        "黑貓宅急便 9060-9123-4567",
        "中華郵政 RR123456789TW",
        "運單 75312345678901",
        "2024-11-25 到貨",
        "預計2024年11月25日出貨",
        "價格 HK$ 9,123，優惠價 ¥12,800.00",
        "統一編號 53212539",
        "會員編號 91234567",
        "簡訊驗證碼 51234567 請勿外洩",
        "订单号 13901234567 已发货",
        "卡號末四碼 1234",
        "Card 4532 9123 4567 8902 declined",  # Luhn-invalid; no phone inside it either
        "生日禮券將於 2024-12-01 寄出",
        "Birthday party on 2024-05-21!",
        "版本 5.2.1 已更新",
    ],
)
def test_hard_negatives(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "9060-9123-4567",
        "4532 9123 4567 8902",
        "AB-91234567",
        "HK$91234567",
        "(02)9123-4567",
        "1.91234567",
    ],
)
def test_no_phone_candidate_inside_longer_codes(text: str) -> None:
    # Even at a near-zero threshold, no HK/CN/TW phone is cut out of a longer token.
    phones = [f for f in scan_text(text, min_score=0.01) if f.entity_type.endswith("_PHONE")]
    assert [(f.entity_type, f.text) for f in phones] in ([], [("TW_PHONE", text)])


def test_bare_dates_need_birth_context() -> None:
    assert found("會議 1990-03-12") == []
    assert found("生日 1990-03-12") == [("BIRTH_DATE", "1990-03-12")]
    # The birth word belongs to another clause.
    assert found("生日已登記，訂單日期 2024-11-25") == []


def test_context_decides_weak_hk_numbers() -> None:
    assert found("91234567") == []
    assert scan_text("91234567", min_score=0.3)[0].score == pytest.approx(0.4)
    assert found("聯絡電話 91234567") == [("HK_PHONE", "91234567")]
    assert found("call 6123 4567 or 9123 4567") == [
        ("HK_PHONE", "6123 4567"),
        ("HK_PHONE", "9123 4567"),
    ]


def test_phone_lists_and_trailing_numbers() -> None:
    assert found("手機0912345678/0922333444") == [
        ("TW_PHONE", "0912345678"),
        ("TW_PHONE", "0922333444"),
    ]
    assert found("收件人 王小明 0912345678 12 Queen's Road") == [("TW_PHONE", "0912345678")]


def test_overlapping_findings_keep_the_strongest() -> None:
    assert found("請寄到A123456789@gmail.com") == [("EMAIL_ADDRESS", "A123456789@gmail.com")]


# --- full-width text and offset mapping ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("身分證Ａ１２３４５６７８９，謝謝", "TW_NATIONAL_ID", "Ａ１２３４５６７８９"),
        ("電話：０９１２－３４５－６７８", "TW_PHONE", "０９１２－３４５－６７８"),
        ("身份證Ａ１２３４５６（３）", "HK_ID", "Ａ１２３４５６（３）"),
        ("信箱ａｍｙ＠ｇｍａｉｌ．ｃｏｍ", "EMAIL_ADDRESS", "ａｍｙ＠ｇｍａｉｌ．ｃｏｍ"),
        ("手机（＋８６）１３８１２３４５６７８", "CN_PHONE", "（＋８６）１３８１２３４５６７８"),
        ("電話 0912\u00a0345\u00a0678", "TW_PHONE", "0912\u00a0345\u00a0678"),
        ("電話 9123\u30004567", "HK_PHONE", "9123\u30004567"),
    ],
)
def test_full_width_offsets_point_into_original(text: str, entity: str, value: str) -> None:
    [finding] = scan_text(text)
    assert (finding.entity_type, finding.text) == (entity, value)
    assert text[finding.start : finding.end] == value
    assert finding.start == text.index(value)


@pytest.mark.parametrize(
    "prefix",
    [
        "㍿",  # NFKC expands one character to four
        "ﬁle ",  # ligature: one to two
        "Cafe\u0301 ",  # combining accent: two characters compose to one
        "①②③ ",
        "",
    ],
)
def test_offsets_survive_length_changing_normalisation(prefix: str) -> None:
    text = prefix + "手機０９１２３４５６７８，身分證A123456789"
    findings = scan_text(text)
    assert [(f.entity_type, f.text) for f in findings] == [
        ("TW_PHONE", "０９１２３４５６７８"),
        ("TW_NATIONAL_ID", "A123456789"),
    ]
    assert findings[0].start == len(prefix) + 2
    for f in findings:
        assert text[f.start : f.end] == f.text


def test_normalize_map_tiles_the_source() -> None:
    rng = random.Random(7)
    alphabet = [
        "a",
        "e\u0301",
        "\u0301",
        "㍿",
        "ﬁ",
        "０",
        "Ａ",
        "－",
        "（",
        "電",
        " ",
        "1",
        "@",
        "①",
        "\u2013",
    ]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20)))
        norm = normalize(text)
        expected = unicodedata.normalize("NFKC", text).replace("\u2013", "-")
        assert norm.text == expected
        if norm.src_start is None:
            assert norm.text == text
            continue
        # Group normalised characters by source cluster: clusters must be contiguous,
        # cover the whole source, and each must normalise to exactly its chunk.
        pos, i = 0, 0
        while i < len(norm.text):
            s, e = norm.to_source(i, i + 1)
            j = i
            while j < len(norm.text) and norm.to_source(j, j + 1) == (s, e):
                j += 1
            assert s == pos
            assert norm.text[i:j] == unicodedata.normalize("NFKC", text[s:e]).replace("\u2013", "-")
            pos, i = e, j
        assert pos == len(text)


def test_ascii_text_is_not_copied() -> None:
    norm = normalize("plain ascii 0912345678")
    assert norm.src_start is None and norm.to_source(3, 7) == (3, 7)


# --- public API ---------------------------------------------------------------------


def test_finding_is_frozen_and_ordered() -> None:
    findings = scan_text("Email amy@gmail.com, mobile 0912345678, ID A123456789")
    assert [f.entity_type for f in findings] == ["EMAIL_ADDRESS", "TW_PHONE", "TW_NATIONAL_ID"]
    assert all(isinstance(f, PiiFinding) for f in findings)
    with pytest.raises(dataclasses.FrozenInstanceError):
        findings[0].start = 0  # type: ignore[misc]


def test_entities_filter_and_validation() -> None:
    text = "Email amy@gmail.com, mobile 0912345678"
    assert found(text, entities=["TW_PHONE"]) == [("TW_PHONE", "0912345678")]
    assert found(text, entities=[]) == []
    with pytest.raises(ValueError, match="unknown entity"):
        scan_text(text, entities=["PERSON"])


def test_contains_pii() -> None:
    assert contains_pii("我的手機是0912345678")
    assert not contains_pii("訂單編號 20241125000123，金額 NT$1,280")
    assert not contains_pii("")


def test_parse_birth_date_rejects_impossible_dates() -> None:
    assert parse_birth_date("1990-02-30") is None
    assert parse_birth_date("2999-01-01") is None
    assert parse_birth_date("民國79年5月12日").isoformat() == "1990-05-12"  # type: ignore[union-attr]


def test_prc_id_with_a_prefecture_level_region_code_does_not_crash_the_scanner():
    """python-stdnum raises KeyError for region codes listed without a county (seen at ingest)."""
    from privacy.detection import scan_texts
    from privacy.recognizers import cn_ric_is_valid

    assert cn_ric_is_valid("110300199001011231")  # checksum and birth date valid, region 110300 exists
    assert not cn_ric_is_valid("110300199001011232")  # wrong check digit
    found = scan_texts(["身份证110300199001011231"])[0]
    assert [(f.entity_type, f.text) for f in found] == [("CN_RESIDENT_ID", "110300199001011231")]
