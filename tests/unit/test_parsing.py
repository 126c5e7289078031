"""What customers type: phones, emails, order and case numbers, "skip", and masking."""

from __future__ import annotations

import pytest

from actions import parsing


@pytest.mark.parametrize(
    "typed, expected",
    [
        # Mainland China mobiles
        ("13812345678", "+8613812345678"),
        ("+86 138 1234 5678", "+8613812345678"),
        ("+86 138-1234-5678", "+8613812345678"),
        ("0086 13812345678", "+8613812345678"),
        ("(+86) 159 0000 1111", "+8615900001111"),
        # Hong Kong
        ("9123 4567", "+85291234567"),
        ("+852 6123-4567", "+85261234567"),
        ("+85251234567", "+85251234567"),
        # Taiwan
        ("0912345678", "+886912345678"),
        ("0912-345-678", "+886912345678"),
        ("+886 912 345 678", "+886912345678"),
        # International with a + prefix
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_valid_phone_numbers_are_normalised(typed: str, expected: str) -> None:
    assert parsing.normalize_phone(typed) == expected
    assert parsing.find_phone(f"you can call me on {typed} any time") == expected
    assert parsing.find_contact(typed) == expected


def test_north_american_number_keeps_its_country_code() -> None:
    assert parsing.normalize_phone("+1 (415) 555-0134") == "+14155550134"


@pytest.mark.parametrize(
    "typed",
    ["12345", "2026-11-20", "555", "11/20", "12345678901234567890", "call me", "", "12-34"],
)
def test_things_that_are_not_phone_numbers_are_rejected(typed: str) -> None:
    assert parsing.normalize_phone(typed) is None
    assert parsing.find_phone(typed) is None
    assert parsing.find_contact(typed) is None


def test_same_number_in_different_formats_normalises_to_the_same_contact() -> None:
    forms = ["13812345678", "+86 138 1234 5678", "+86 138-1234-5678", "86 13812345678", "我的电话13812345678"]
    assert {parsing.normalize_contact(form) for form in forms} == {"+8613812345678"}


def test_phone_inside_chinese_sentence() -> None:
    assert parsing.find_phone("我的电话是13812345678谢谢") == "+8613812345678"
    assert parsing.find_phone("打我電話 9123 4567 啦") == "+85291234567"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("my email is Zhang.Wei@Example.com", "zhang.wei@example.com"),
        ("邮箱zhang@qq.com谢谢", "zhang@qq.com"),
        ("email me at a.b@mail.co.uk.", "a.b@mail.co.uk"),
        ("chan_tai-man+cs@hk-mail.com.hk", "chan_tai-man+cs@hk-mail.com.hk"),
    ],
)
def test_emails_are_found_and_lower_cased(text: str, expected: str) -> None:
    assert parsing.find_email(text) == expected
    assert parsing.find_contact(text) == expected


@pytest.mark.parametrize("text", ["zhang@", "@qq.com", "zhang at qq dot com", "name@localhost"])
def test_incomplete_emails_are_rejected(text: str) -> None:
    assert parsing.find_email(text) is None


def test_email_wins_over_phone_when_both_are_given() -> None:
    assert parsing.find_contact("email zhang@qq.com or phone 13812345678") == "zhang@qq.com"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ZZ555666", "ZZ555666"),
        ("my order is zz555666", "ZZ555666"),
        ("ord-20261101", "ORD-20261101"),
        ("Order number: ORD-20261101, please check", "ORD-20261101"),
        ("account AC12345678", "AC12345678"),
        ("订单号：ZZ555666", "ZZ555666"),
        ("20261101", "20261101"),
        ("account no. 123456789012", "123456789012"),
        ("order ZZ555666, phone 13812345678", "ZZ555666"),
    ],
)
def test_order_references_are_recognised(text: str, expected: str) -> None:
    assert parsing.find_order_ref(text) == expected


@pytest.mark.parametrize(
    "text",
    ["13812345678", "call me on 13812345678", "+852 9123 4567", "0912345678", "12345", "skip", "no idea"],
)
def test_phone_numbers_and_junk_are_not_order_references(text: str) -> None:
    assert parsing.find_order_ref(text) is None


def test_order_reference_glued_to_chinese_text() -> None:
    assert parsing.find_order_ref("订单ZZ555666现在什么状态") == "ZZ555666"


def test_order_reference_survives_a_phone_number_in_the_same_message() -> None:
    assert parsing.find_order_ref("ORD-20261101 and my phone is 13812345678") == "ORD-20261101"


def test_phone_found_right_after_an_order_number() -> None:
    assert parsing.find_phone("ORD-20261101 13812345678") == "+8613812345678"


@pytest.mark.parametrize(
    "text",
    [
        "CMP-20261122-0042",
        "cmp-20261122-0042",
        "CMP20261122-0042",
        "cmp202611220042",
        "my case is Cmp-20261122-0042, any news?",
        "case (CMP-20261122-0042)",
    ],
)
def test_case_ids_in_various_spellings_become_canonical(text: str) -> None:
    assert parsing.find_case_id(text) == "CMP-20261122-0042"


@pytest.mark.parametrize("text", ["CMP-2026112-0042", "20261122-0042", "ZZ555666", "case 42", "CMP-20261122-42"])
def test_not_a_case_id(text: str) -> None:
    assert parsing.find_case_id(text) is None


def test_case_id_glued_to_chinese_text() -> None:
    assert parsing.find_case_id("我的编号是CMP-20261122-0042") == "CMP-20261122-0042"


def test_case_id_with_spaces() -> None:
    assert parsing.find_case_id("CMP 20261122 0042") == "CMP-20261122-0042"


@pytest.mark.parametrize(
    "text",
    [
        "skip",
        "Skip.",
        "SKIP!",
        "n/a",
        "N/A",
        "none",
        "no",
        "不知道",
        "跳过",
        "没有",
        "跳過",
        "沒有",
        "不記得",
        "唔知",
        "冇",
        "唔記得。",
    ],
)
def test_skip_words_in_three_languages(text: str) -> None:
    assert parsing.is_skip(text)


@pytest.mark.parametrize(
    "text",
    ["skip the small talk, my fridge is broken", "ZZ555666", "知道", "no refund yet", "13812345678", "有"],
)
def test_real_answers_are_not_skips(text: str) -> None:
    assert not parsing.is_skip(text)


def test_substantive_descriptions() -> None:
    assert parsing.is_substantive("My washing machine stopped working after two days")
    assert parsing.is_substantive("我买的洗衣机用了两天就坏了")
    assert parsing.is_substantive("部washing machine壞咗兩日")
    assert not parsing.is_substantive("refund")
    assert not parsing.is_substantive("退款")
    assert not parsing.is_substantive("ZZ555666")


def test_mask_contact_hides_the_middle_of_a_phone() -> None:
    masked = parsing.mask_contact("+8613812345678")
    assert masked.startswith("+861") and masked.endswith("678")
    assert "3812345" not in masked
    assert len(masked) == len("+8613812345678")
    assert "*" in masked


def test_mask_contact_hides_the_name_of_an_email() -> None:
    masked = parsing.mask_contact("zhang.wei@example.com")
    assert masked == "z***@example.com"
    assert "zhang.wei" not in masked
