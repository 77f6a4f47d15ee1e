"""One regression test per weakness class of issue 16: what real people type."""

from __future__ import annotations

import pytest
from stdnum import ean, luhn

from privacy.detection import scan_text


def found(text: str) -> list[tuple[str, str]]:
    """(entity type, matched original text) pairs, in order."""
    return [(f.entity_type, f.text) for f in scan_text(text)]


# --- case normalisation of ID letters ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("客人身分證w162923845要退貨", ("TW_NATIONAL_ID", "w162923845")),
        ("ID xe088103(A) verified", ("HK_ID", "xe088103(A)")),
        ("香港身份證 xe088103(a)", ("HK_ID", "xe088103(a)")),
        (
            "身分證ａ１２３４５６７８９",
            ("TW_NATIONAL_ID", "ａ１２３４５６７８９"),
        ),  # full-width lower case
    ],
)
def test_lower_case_id_letters_are_ids(text: str, expected: tuple[str, str]) -> None:
    assert found(text) == [expected]


def test_lower_case_letters_still_need_the_checksum() -> None:
    assert found("身分證w162923846") == []
    assert found("身份證xe088103(7)") == []


# --- separators and prefixes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("手機0960.568.321", ("TW_PHONE", "0960.568.321")),
        ("市話 02.2345.6789", ("TW_PHONE", "02.2345.6789")),
        ("電話 6123.4567", ("HK_PHONE", "6123.4567")),
        ("手机138.1234.5678", ("CN_PHONE", "138.1234.5678")),
        ("＋８８６．９１２．３４５．６７８", ("TW_PHONE", "＋８８６．９１２．３４５．６７８")),
    ],
)
def test_dots_separate_phone_groups_in_all_three_regions(
    text: str, expected: tuple[str, str]
) -> None:
    assert found(text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00886 968359669", ("TW_PHONE", "00886 968359669")),
        ("打去00886-2-2345-6789", ("TW_PHONE", "00886-2-2345-6789")),
        ("00852 9123 4567", ("HK_PHONE", "00852 9123 4567")),
        ("0086 13812345678", ("CN_PHONE", "0086 13812345678")),
    ],
)
def test_the_00_international_prefix_parses(text: str, expected: tuple[str, str]) -> None:
    assert found(text) == [expected]


def test_six_digit_local_numbers_grouped_two_and_four() -> None:
    assert found("聯絡電話 (089)32-6141") == [("TW_PHONE", "(089)32-6141")]
    assert found("客服專線 037-26-6911") == [("TW_PHONE", "037-26-6911")]


def test_hong_kong_fixed_lines_need_a_phone_word() -> None:
    assert found("公司電話 2345 6789") == [("HK_PHONE", "2345 6789")]
    assert found("2345 6789") == []


# --- context windows: clauses, sentences, distance ---------------------------------------------


def test_a_reference_word_in_the_next_clause_does_not_suppress_a_phone() -> None:
    assert found("王小明 +886 912 345 678，SKU 12345") == [("TW_PHONE", "+886 912 345 678")]
    assert found("王小明 0912345678，訂單已取消") == [("TW_PHONE", "0912345678")]
    assert found("陳生 0912-345-678，發票 AB12345678") == [("TW_PHONE", "0912-345-678")]


def test_phone_context_does_not_reach_a_number_in_the_next_clause() -> None:
    # The phone word belongs to the first number; the 8-digit one after the comma is a code.
    assert found("電話 0912345678，另一組 91234567") == [("TW_PHONE", "0912345678")]
    assert found("此单 67372819，会员号码 75229091") == []


def test_a_reference_word_right_next_to_the_number_still_wins() -> None:
    assert found("訂單編號 0912345678") == []
    assert found("SKU 91234567") == []


def test_distance_weighs_a_negative_word() -> None:
    # Adjacent "SKU" cuts even a +886 number; far away in the clause it only lowers it.
    assert found("SKU +886912345678") == []
    assert found("SKU 已經缺貨很久了請回覆 +886912345678") == [("TW_PHONE", "+886912345678")]


def test_generic_number_words_take_the_type_of_the_word_before() -> None:
    assert found("會員號碼 91234567") == []
    assert found("手機號碼 91234567") == [("HK_PHONE", "91234567")]
    assert found("身份證編號A123456(3)") == [("HK_ID", "A123456(3)")]


def test_call_verb_right_before_the_number() -> None:
    assert found("有問題打6499 7404") == [("HK_PHONE", "6499 7404")]
    assert found("全館打8折，會員 91234567") == []


# --- negative context for IDs and cards -------------------------------------------------------


def _ean_that_passes_luhn() -> str:
    for n in range(10**8, 10**9):
        body = f"471{n}"
        code = body + ean.calc_check_digit(body)
        if luhn.is_valid(code):
            return code
    raise AssertionError("unreachable")


def test_product_codes_that_pass_the_hkid_check_are_not_ids() -> None:
    assert found("身份證 T3944683") == [("HK_ID", "T3944683")]  # it does pass the check
    assert found("貨品編號 T3944683") == []
    assert found("SKU T3944683 缺貨") == []
    assert found("item T3944683 (EAN pending)") == []


def test_ean_barcodes_are_not_cards() -> None:
    code = _ean_that_passes_luhn()
    assert found(f"條碼 {code}") == []
    assert found(f"{code} 嘅貨仲有冇") == []  # 13 digits: a card only next to a card word
    assert found(f"信用卡 {code}") == [("CREDIT_CARD", code)]


def test_a_card_next_to_a_product_word_is_not_a_card_but_far_away_it_is() -> None:
    assert found("商品 4111 1111 1111 1111") == []
    assert found("卡號 4111 1111 1111 1111，商品缺貨") == [("CREDIT_CARD", "4111 1111 1111 1111")]


# --- IPs and versions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("來源IP：2001:b011:4002:1a2b::1 登入", "2001:b011:4002:1a2b::1"),
        ("來源：2402:7500:4dc:9d0::1", "2402:7500:4dc:9d0::1"),
        ("ipv6:2001:db8::1", "2001:db8::1"),
    ],
)
def test_ipv6_after_a_label_colon(text: str, value: str) -> None:
    assert found(text) == [("IP_ADDRESS", value)]


def test_ipv6_is_not_cut_out_of_a_longer_hex_run() -> None:
    assert [f.text for f in scan_text("id de:ad:2001:db8::1")] == ["de:ad:2001:db8::1"]


@pytest.mark.parametrize(
    "text", ["App 版本 4.5.0.15", "firmware 10.2.0.145 installed", "韌體版本：4.5.0.15"]
)
def test_four_part_versions_are_not_ip_addresses(text: str) -> None:
    assert found(text) == []


def test_an_ip_is_still_an_ip() -> None:
    assert found("伺服器 IP 4.5.0.15 異常") == [("IP_ADDRESS", "4.5.0.15")]


# --- ROC-year birth dates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("生日：42年4月11日", "42年4月11日"),
        ("出生日期 105年12月1日", "105年12月1日"),
        ("生日民國79年5月6日", "民國79年5月6日"),
    ],
)
def test_roc_birth_dates_without_minguo(text: str, value: str) -> None:
    assert found(text) == [("BIRTH_DATE", value)]


def test_roc_pattern_does_not_cut_a_western_year() -> None:
    assert found("生日 1942年4月11日") == [("BIRTH_DATE", "1942年4月11日")]
    assert found("預計114年3月5日出貨") == []


# --- country codes as people type them, grouped PRC IDs, compact ROC dates ---------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("手機 +886 0912 345 678", ("TW_PHONE", "+886 0912 345 678")),  # trunk 0 kept
        ("886-912-345-678", ("TW_PHONE", "886-912-345-678")),  # no + and no 00
        ("852-61234567", ("HK_PHONE", "852-61234567")),
        ("86-13812345678", ("CN_PHONE", "86-13812345678")),
    ],
)
def test_country_codes_as_people_type_them(text: str, expected: tuple[str, str]) -> None:
    assert found(text) == [expected]


def test_a_bare_country_code_is_still_cut_by_an_adjacent_reference_word() -> None:
    assert found("訂單 886-912-345-678") == []


def test_prc_id_grouped_as_region_birth_date_sequence() -> None:
    assert found("身份证 110105 19491231 002X") == [("CN_RESIDENT_ID", "110105 19491231 002X")]
    assert found("身份证 110105 19491231 0021") == []


def test_compact_and_zero_padded_roc_birth_dates() -> None:
    assert found("出生年月日：0420411") == [("BIRTH_DATE", "0420411")]
    assert found("生日 042/04/11") == [("BIRTH_DATE", "042/04/11")]
    assert found("單號 0420411") == []
