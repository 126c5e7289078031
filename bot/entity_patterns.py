"""Token patterns for the spaCy EntityRuler: order and case numbers, phones, emails, amounts, dates.

Patterns are written against jieba's segmentation (what the pipeline's tokenizer
produces): "ORD-20261101" is three tokens, "13812345678" one, "zhang@x.com" five.
Products and date words are data, kept in entity_keywords.yml for content editors.
"""

from __future__ import annotations

from typing import Any, Dict, List

Pattern = Dict[str, Any]
Token = Dict[str, Any]


def _regex(expression: str, op: str = "") -> Token:
    """One token whose text matches the whole expression."""
    token: Token = {"TEXT": {"REGEX": f"^(?:{expression})$"}}
    if op:
        token["OP"] = op
    return token


def _text(*choices: str, op: str = "") -> Token:
    """One token equal to one of the choices."""
    token: Token = {"TEXT": {"IN": list(choices)}}
    if op:
        token["OP"] = op
    return token


def _lower(*choices: str, op: str = "") -> Token:
    """One token equal to one of the choices, ignoring case."""
    token: Token = {"LOWER": {"IN": list(choices)}}
    if op:
        token["OP"] = op
    return token


_NUMBER = [_regex(r"\d+(?:\.\d+)?"), _text(",", ".", op="?"), _regex(r"\d+(?:\.\d+)?", op="?")]
_CURRENCY_SIGNS = ("$", "¥", "￥", "€", "£")
_CURRENCY_PREFIXES = ("hk", "nt", "us", "rmb", "s", "cny", "hkd", "usd", "twd")
_CURRENCY_WORDS = (
    "元", "块", "塊", "蚊", "圓", "块钱", "塊錢", "港币", "港幣", "港元", "美元", "美金",
    "人民币", "人民幣", "台币", "台幣", "新台币", "新台幣",
    "dollars", "dollar", "yuan", "rmb", "hkd", "usd", "ntd", "twd", "bucks",
)
_MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august",
    "september", "october", "november", "december",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
)
_DAY_ORDINAL = r"\d{1,2}(?:st|nd|rd|th)?"


def order_id_patterns() -> List[Pattern]:
    """Order or account references: 2-4 letters then 6-12 digits, optionally hyphenated."""
    return [
        {"label": "order_id", "pattern": [_regex(r"(?!(?i:cmp))[A-Za-z]{2,4}\d{6,12}")]},
        {
            "label": "order_id",
            "pattern": [_regex(r"(?!(?i:cmp))[A-Za-z]{2,4}"), _text("-"), _regex(r"\d{6,12}")],
        },
    ]


def case_id_patterns() -> List[Pattern]:
    """Complaint case numbers as the assistant issues them: CMP-20261122-0042."""
    return [
        {
            "label": "case_id",
            "pattern": [_lower("cmp"), _text("-"), _regex(r"\d{8}"), _text("-"), _regex(r"\d{4,6}")],
        },
        {"label": "case_id", "pattern": [_regex(r"(?i:cmp)\d{12,14}")]},
    ]


def phone_patterns() -> List[Pattern]:
    """Mainland, Hong Kong, Taiwan mobiles and international numbers with a + prefix."""
    plus_86 = [_text("+", op="?"), _text("86", "0086", op="?")]
    plus_852 = [_text("+", op="?"), _text("852", op="?")]
    return [
        {"label": "phone", "pattern": [*plus_86, _regex(r"1[3-9]\d{9}")]},
        {"label": "phone", "pattern": [*plus_86, _regex(r"1[3-9]\d"), _text("-", op="?"),
                                       _regex(r"\d{4}"), _text("-", op="?"), _regex(r"\d{4}")]},
        {"label": "phone", "pattern": [*plus_852, _regex(r"[4-9]\d{7}")]},
        {"label": "phone", "pattern": [*plus_852, _regex(r"[4-9]\d{3}"), _text("-", op="?"),
                                       _regex(r"\d{4}")]},
        {"label": "phone", "pattern": [_regex(r"09\d{8}")]},
        {"label": "phone", "pattern": [_regex(r"09\d{2}"), _text("-", op="?"), _regex(r"\d{3}"),
                                       _text("-", op="?"), _regex(r"\d{3}")]},
        {"label": "phone", "pattern": [_text("+"), _regex(r"\d{1,3}"), _regex(r"\d{2,5}"),
                                       _regex(r"\d{2,5}", op="+")]},
    ]


def email_patterns() -> List[Pattern]:
    """Addresses split by jieba into name, dots, @ and domain parts, with no spaces between."""
    part = r"[A-Za-z0-9_+\-]+"
    glued = {"SPACY": False}
    return [
        {
            "label": "email",
            "pattern": [
                {**_regex(part), **glued},
                {"TEXT": {"REGEX": rf"^(?:\.|{part})$"}, "OP": "*", **glued},
                {**_text("@"), **glued},
                {"TEXT": {"REGEX": r"^(?:\.|[A-Za-z0-9\-]+)$"}, "OP": "+", **glued},
                _regex(r"[A-Za-z]{2,}"),
            ],
        },
        {"label": "email", "pattern": [_regex(r"[A-Za-z0-9_.+\-]+@[A-Za-z0-9\-.]+\.[A-Za-z]{2,}")]},
    ]


def amount_patterns() -> List[Pattern]:
    """Money with a currency sign before the number or a currency word after it."""
    return [
        {"label": "amount", "pattern": [_lower(*_CURRENCY_PREFIXES, op="?"), _text(*_CURRENCY_SIGNS), *_NUMBER]},
        {"label": "amount", "pattern": [_lower(*_CURRENCY_PREFIXES), *_NUMBER]},
        {"label": "amount", "pattern": [*_NUMBER, _lower(*_CURRENCY_WORDS)]},
    ]


def numeric_date_patterns() -> List[Pattern]:
    """Dates written with digits: 2026-11-20, 11月20日, 20/11, 3 November, Nov 3rd."""
    separators = ("-", "/", ".")
    return [
        {"label": "date", "pattern": [_regex(r"\d{4}"), _text(*separators), _regex(r"\d{1,2}"),
                                      _text(*separators), _regex(r"\d{1,2}")]},
        {"label": "date", "pattern": [_regex(r"\d{1,2}"), _text("/"), _regex(r"\d{1,2}"),
                                      _text("/", op="?"), _regex(r"\d{2,4}", op="?")]},
        {"label": "date", "pattern": [_regex(r"\d{4}", op="?"), _text("年", op="?"), _regex(r"\d{1,2}"),
                                      _text("月"), _regex(r"\d{1,2}"), _text("日", "号", "號")]},
        {"label": "date", "pattern": [_regex(r"\d{1,2}"), _text("月", "号", "號", "日")]},
        {"label": "date", "pattern": [_regex(_DAY_ORDINAL), _lower("of", op="?"), _lower(*_MONTHS)]},
        {"label": "date", "pattern": [_lower(*_MONTHS), _regex(_DAY_ORDINAL)]},
    ]


def keyword_patterns(keywords: Dict[str, List[str]]) -> List[Pattern]:
    """Phrase patterns (matched case-insensitively) for products and date words."""
    patterns: List[Pattern] = []
    for label, phrases in keywords.items():
        for phrase in phrases:
            patterns.append({"label": label, "pattern": phrase.lower()})
    return patterns


def all_token_patterns() -> List[Pattern]:
    """Every pattern that is code rather than content."""
    return [
        *case_id_patterns(),
        *order_id_patterns(),
        *phone_patterns(),
        *email_patterns(),
        *amount_patterns(),
        *numeric_date_patterns(),
    ]
