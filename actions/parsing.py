"""Recognise and validate what customers type: phones, emails, order and case numbers (pure logic)."""

from __future__ import annotations

import re
from typing import Optional

_EMAIL = re.compile(r"[A-Za-z0-9_.+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# Digits glued to letters (AC55554444) belong to an order number, never to a phone.
_PHONE_CANDIDATE = re.compile(r"(?<![A-Za-z0-9])\+?\(?\d[\d \-().]{6,20}\d")
# Lookarounds instead of \b: in "订单ZZ555666" there is no word boundary before ZZ.
_LETTERED_REF = re.compile(r"(?<![A-Za-z0-9])(?!CMP)([A-Za-z]{2,4})-?(\d{6,12})(?![0-9])", re.IGNORECASE)
_DIGITS_REF = re.compile(r"(?<![\d])(\d{8,12})(?![\d])")
_CASE_ID = re.compile(r"(?<![A-Za-z0-9])CMP[-\s]?(\d{8})[-\s]?(\d{4,6})(?![0-9])", re.IGNORECASE)
_SKIP_WORDS = re.compile(
    r"^\s*(skip|n/?a|none|no|不知道|跳过|跳過|没有|沒有|唔知|冇|不記得|不记得|唔記得)\s*[.!。！]*\s*$",
    re.IGNORECASE,
)


def find_email(text: str) -> Optional[str]:
    """The first email address in the text, lower-cased."""
    match = _EMAIL.search(text)
    return match.group(0).lower() if match else None


def normalize_phone(raw: str) -> Optional[str]:
    """E.164-style digits for a mainland, Hong Kong, Taiwan or international number, else None."""
    has_plus = raw.strip().startswith("+")
    digits = re.sub(r"\D", "", raw)
    if digits.startswith("00"):
        digits, has_plus = digits[2:], True
    if has_plus and not digits.startswith(("86", "852", "886")):
        return "+" + digits if 8 <= len(digits) <= 15 else None
    if re.fullmatch(r"1[3-9]\d{9}", digits):
        return "+86" + digits
    if re.fullmatch(r"861[3-9]\d{9}", digits):
        return "+" + digits
    if re.fullmatch(r"[4-9]\d{7}", digits):
        return "+852" + digits
    if re.fullmatch(r"852[4-9]\d{7}", digits):
        return "+" + digits
    if re.fullmatch(r"09\d{8}", digits):
        return "+886" + digits[1:]
    if re.fullmatch(r"8869\d{8}", digits):
        return "+" + digits
    if has_plus and 8 <= len(digits) <= 15:
        return "+" + digits
    return None


def find_phone(text: str) -> Optional[str]:
    """The first valid phone number in the text, normalised."""
    for candidate in _PHONE_CANDIDATE.finditer(text):
        phone = _phone_within(candidate.group(0))
        if phone:
            return phone
    return None


def _phone_within(candidate: str) -> Optional[str]:
    """The candidate itself, or the longest run of its space-separated parts, that is a phone."""
    parts = candidate.split()
    for length in range(len(parts), 0, -1):
        for start in range(len(parts) - length + 1):
            phone = normalize_phone(" ".join(parts[start : start + length]))
            if phone:
                return phone
    return None


def find_contact(text: str) -> Optional[str]:
    """An email or a phone number from the text, normalised; None when neither is valid."""
    return find_email(text) or find_phone(text)


def normalize_contact(raw: str) -> Optional[str]:
    """Canonical form used to compare a contact given now with the one on a case."""
    return find_contact(raw)


def find_order_ref(text: str) -> Optional[str]:
    """An order or account reference (ZZ555666, ORD-20261101, or 8-12 digits), upper-cased."""
    text = _CASE_ID.sub(" ", text)
    lettered = _LETTERED_REF.search(text)
    if lettered:
        hyphen = "-" if "-" in lettered.group(0) else ""
        return f"{lettered.group(1).upper()}{hyphen}{lettered.group(2)}"
    phone = find_phone(text)
    if phone:
        text = _without_phone(text, phone)
    digits = _DIGITS_REF.search(text)
    return digits.group(1) if digits else None


def _without_phone(text: str, phone: str) -> str:
    """The text with the digits of that phone number blanked, so they are not read as an order."""
    national = re.sub(r"^\+(86|852|886)", "", phone)
    pattern = r"[ \-]?".join(re.escape(digit) for digit in national)
    return re.sub(rf"(?:\+?\d{{1,3}}[ \-]?)?{pattern}", " ", text, count=1)


def find_case_id(text: str) -> Optional[str]:
    """A case number in its canonical form CMP-YYYYMMDD-NNNN."""
    match = _CASE_ID.search(text)
    return f"CMP-{match.group(1)}-{match.group(2)}" if match else None


def is_skip(text: str) -> bool:
    """Whether the text only says skip / don't know / none."""
    return bool(_SKIP_WORDS.match(text))


def is_substantive(text: str) -> bool:
    """Whether a message says enough to serve as a description of what happened."""
    cjk = len(re.findall(r"[\u3400-\u9fff]", text))
    words = len(re.findall(r"[A-Za-z]+", text))
    return cjk >= 8 or words >= 6 or (cjk >= 4 and words >= 2)


def mask_contact(contact: str) -> str:
    """Hide most of a phone or email for logs and read-backs of shared screens."""
    if "@" in contact:
        name, _, domain = contact.partition("@")
        return f"{name[:1]}***@{domain}"
    return contact[:4] + "*" * max(len(contact) - 7, 0) + contact[-3:]
