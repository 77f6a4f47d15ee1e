"""Name forms and matching rows: characters, romanisations, phones, dates, e-mails (pure units)."""

from __future__ import annotations

import pytest

from resolution.features import normalize_dob, normalize_phone, row_from_profile, split_email
from resolution.names import name_forms


@pytest.mark.parametrize("spelling", ["王小明", "王 小明", "Wang Hsiao-Ming", "Hsiao-Ming Wang", "Wang Xiaoming",
                                      "WANG HSIAOMING", "ｗａｎｇ　ｘｉａｏ　ｍｉｎｇ", "Wang Hsiao Ming"])
def test_mandarin_spellings_of_one_name_share_a_key(spelling):
    assert name_forms(spelling).mandarin == name_forms("王小明").mandarin == "hsiao ming wang"


def test_traditional_and_simplified_characters_fold():
    assert name_forms("王曉明").hanzi == name_forms("王晓明").hanzi == "王晓明"
    assert name_forms("張志強").hanzi == name_forms("张志强").hanzi


def test_hong_kong_romanisation_matches_the_characters_cantonese_reading():
    assert set(name_forms("Chan Tai Man").forms) & set(name_forms("陳大文").forms)
    assert set(name_forms("Wong Siu Ming").forms) & set(name_forms("王小明").forms)
    assert set(name_forms("Cheung Chi Keung").forms) & set(name_forms("張志強").forms)


def test_different_people_keep_different_keys():
    assert name_forms("王小明").mandarin != name_forms("王小華").mandarin
    assert not set(name_forms("林美玲").forms) & set(name_forms("林美華").forms)


def test_western_names_are_not_cut_into_chinese_syllables():
    assert name_forms("alexandra nguyen").mandarin == "alexandra nguyen"
    assert name_forms("").mandarin is None and name_forms(None).forms == []


@pytest.mark.parametrize(("raw", "iso"), [("1985-03-07", "1985-03-07"), ("1985/3/7", "1985-03-07"),
                                          ("07/03/1985", "1985-03-07"), ("19850307", "1985-03-07"),
                                          ("74/03/07", "1985-03-07"), ("12/31/1985", "1985-12-31"),
                                          ("not a date", None), ("1985-13-45", None)])
def test_dates_of_birth_normalise_to_iso(raw, iso):
    assert normalize_dob(raw) == iso


def test_phones_go_to_e164_digits_and_emails_split():
    assert normalize_phone("0912-345-678") == "886912345678"
    assert normalize_phone("+852 9123 4567") == "85291234567"
    assert split_email("Xiao.Ming+shop@GMail.com") == ("xiaoming@gmail.com", "xiaoming", "gmail.com")
    assert split_email("nope") == (None, None, None)


def test_profile_rows_read_chinese_trait_names_and_fall_back_to_identifiers():
    row = row_from_profile("p1", {"姓名": "王曉明", "生日": "1985/03/07", "Home Address": "台北市中山路1號"},
                           [("phone", "+886912345678"), ("email", "amy@example.com")])
    assert row["name_hanzi"] == "王晓明" and row["dob"] == "1985-03-07"
    assert row["phone"] == "886912345678" and row["email_local"] == "amy"
    assert row["address"] == "台北市中山路1号"
