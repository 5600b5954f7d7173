"""PII detection: e-mail, phone, IP, IBAN, credit card and national ID numbers, validated.

A pattern only proposes a candidate; a candidate counts when it validates: IBAN by country
length and ISO 13616 mod-97, cards by issuer prefix and Luhn, national IDs by their
checksums (configs/pii/README.md lists the countries), IPs by ``ipaddress``, phones by
libphonenumber (``phonenumbers``: a valid number of a region tried for the document's language,
configs/pii/phone_regions.yaml, or of any region in +CC form). Look-alikes are refused by
validation and by context: a number right after ``ISBN``, ``v``/``version`` is none of these,
dates and thousands-grouped prices are no phone numbers.

Overlapping candidates: the kind with the stronger validation wins (a valid IBAN is not also a
phone number). Precision/recall and MB/s: bench/pii_eval.py.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

KINDS = ("EMAIL", "IBAN", "CREDIT_CARD", "NATIONAL_ID", "IP_ADDRESS", "PHONE")  # also the overlap priority
PLACEHOLDERS = {kind: f"<{kind}>" for kind in KINDS}


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str
    detail: str = ""   # country of a national ID, region of a phone number


# ---------------------------------------------------------------------------------------
# checksums

def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def iban_ok(compact: str) -> bool:
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


_VERHOEFF_D = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
               [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
               [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
               [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
_VERHOEFF_P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
               [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
               [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]


def verhoeff_ok(digits: str) -> bool:
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][int(ch)]]
    return c == 0


def _weighted(digits: str, weights: Sequence[int]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights))


IBAN_LENGTHS = {"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
                "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24,
                "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21,
                "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21,
                "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MT": 31, "MU": 30, "NL": 18,
                "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24,
                "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20}
_CARD_PREFIX = re.compile(r"4|5[1-5]|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|3[47]|3(?:0[0-5]|[68])|6(?:011|5|4[4-9])|35(?:2[89]|[3-8])|62")

# ---------------------------------------------------------------------------------------
# national IDs: (country, pattern, validator of the match)

_IT_ODD = dict(zip("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                   [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12,
                    14, 16, 10, 22, 25, 24, 23]))


def _it_cf(m: re.Match) -> bool:
    s = m.group(0)
    total = sum(_IT_ODD[c] if i % 2 == 0 else (int(c) if c.isdigit() else ord(c) - 65) for i, c in enumerate(s[:15]))
    return chr(65 + total % 26) == s[15]


def _us_ssn(m: re.Match) -> bool:
    area, group, serial = m.group(1), m.group(2), m.group(3)
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _gb_nino(m: re.Match) -> bool:
    return m.group(1) not in ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ")


def _fr_nir(m: re.Match) -> bool:
    s = re.sub(r"\s", "", m.group(0))
    body = s[:13].replace("2A", "19").replace("2B", "18")
    return 97 - int(body) % 97 == int(s[13:])


def _es_dni(m: re.Match) -> bool:
    s = re.sub(r"[\s-]", "", m.group(0))
    digits = str("XYZ".index(s[0])) + s[1:-1] if s[0] in "XYZ" else s[:-1]
    return "TRWAGMYFPDXBNJZSQVHLCKE"[int(digits) % 23] == s[-1]


def _br_cpf(m: re.Match) -> bool:
    d = re.sub(r"\D", "", m.group(0))
    if len(set(d)) == 1:
        return False
    d1 = _weighted(d, range(10, 1, -1)) * 10 % 11 % 10
    d2 = _weighted(d, range(11, 1, -1)) * 10 % 11 % 10
    return d[9] == str(d1) and d[10] == str(d2)


def _in_aadhaar(m: re.Match) -> bool:
    return verhoeff_ok(re.sub(r"\D", "", m.group(0)))


def _cn_ric(m: re.Match) -> bool:
    s = m.group(0).upper()
    if not (1 <= int(s[10:12]) <= 12 and 1 <= int(s[12:14]) <= 31 and s[6:8] in ("19", "20")):
        return False
    return "10X98765432"[_weighted(s, [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]) % 11] == s[17]


def _kr_rrn(m: re.Match) -> bool:
    d = m.group(0).replace("-", "")
    if not (1 <= int(d[2:4]) <= 12 and 1 <= int(d[4:6]) <= 31):
        return False
    return (11 - _weighted(d, [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]) % 11) % 10 == int(d[12])


def _pl_pesel(m: re.Match) -> bool:
    d = m.group(0)
    if not (int(d[2:4]) % 20 in range(1, 13) and 1 <= int(d[4:6]) <= 31):
        return False
    return (10 - _weighted(d, [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]) % 10) % 10 == int(d[10])


NATIONAL_IDS: List[Tuple[str, re.Pattern, Callable[[re.Match], bool]]] = [
    ("US", re.compile(r"(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])"), _us_ssn),
    ("GB", re.compile(r"\b([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"), _gb_nino),
    ("FR", re.compile(r"(?<![\d])[12] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}(?!\d)"), _fr_nir),
    ("ES", re.compile(r"\b(?:\d{8}|[XYZ]-?\d{7})-?[A-Z]\b"), _es_dni),
    ("IT", re.compile(r"\b[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z]\b"), _it_cf),
    ("BR", re.compile(r"(?<![\d.])\d{3}\.\d{3}\.\d{3}-\d{2}(?![\d])"), _br_cpf),
    ("IN", re.compile(r"(?<!\d)[2-9]\d{3} \d{4} \d{4}(?!\d)"), _in_aadhaar),
    ("CN", re.compile(r"(?<!\d)\d{17}[\dXx](?![\dA-Za-z])"), _cn_ric),
    ("KR", re.compile(r"(?<!\d)\d{6}-[1-4]\d{6}(?!\d)"), _kr_rrn),
    ("PL", re.compile(r"(?<!\d)\d{11}(?!\d)"), _pl_pesel),
]

# ---------------------------------------------------------------------------------------
# candidates

_EMAIL = re.compile(r"(?<![\w.+%-])[\w+%-](?:[\w.+%-]{0,62}[\w+%-])?@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,24}(?![\w-])")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:|:){2,7}(?::|[0-9A-Fa-f]{1,4})(?![\w:])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}")
_CARD_SHAPE = re.compile(r"(?<![\d-])(?:\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?|\d{16}|\d{4}[ -]\d{6}[ -]\d{5})(?![\d-])")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE = re.compile(r"(?<![\w+.,–])(?:\+|00)?(?:\(\d{1,4}\)|\d)(?:[ .\-/]?(?:\(\d{1,4}\)|\d)){5,16}(?![\w–])")
_NOT_A_NUMBER_BEFORE = re.compile(r"(?:isbn(?:-1[03])?|issn|doi|\bv|version|ver\.|release|build|art\.|nr\.|no\.|#)[:\s]*$", re.I)
_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")
_GROUPED_AMOUNT = re.compile(r"\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?")
_DIGIT = re.compile(r"\d")
_DECIMAL = re.compile(r"\d+[.,]\d+")
_UNIT_AFTER = re.compile(r"\s?(?:°|%|‰|€|\$|£|¥|₫|₽|₹|km|kg|mm|cm|ml)")


def _after_marker(text: str, start: int) -> bool:
    return bool(_NOT_A_NUMBER_BEFORE.search(text[max(0, start - 12):start]))


class PiiDetector:
    """Finds PII spans of the chosen kinds; ``regions`` maps ISO 639-3 codes to phone regions."""

    def __init__(self, kinds: Iterable[str] = KINDS, regions: Optional[Dict[str, List[str]]] = None,
                 national_id_countries: Optional[Iterable[str]] = None):
        self.kinds = set(kinds)
        self.regions = regions or {"_default": ["US", "GB"]}
        wanted = set(national_id_countries) if national_id_countries is not None else None
        self.national_ids = [n for n in NATIONAL_IDS if wanted is None or n[0] in wanted]
        if "PHONE" in self.kinds:
            import phonenumbers
            self._pn = phonenumbers
            self._lengths: Dict[str, tuple] = {}

    def find(self, text: str, language: Optional[str] = None) -> List[Span]:
        spans: List[Span] = []
        if "EMAIL" in self.kinds and "@" in text:
            spans += [Span(m.start(), m.end(), "EMAIL") for m in _EMAIL.finditer(text)]
        if _DIGIT.search(text):
            spans += self._numbers(text, language)
        return _resolve_overlaps(spans)

    def _numbers(self, text: str, language: Optional[str]) -> List[Span]:
        spans: List[Span] = []
        if "IBAN" in self.kinds:
            spans += [s for m in _IBAN.finditer(text) if (s := _iban_span(text, m)) is not None]
        if "CREDIT_CARD" in self.kinds:
            for m in _CARD.finditer(text):
                for cand in _with_space_prefixes(m.group(0)):
                    digits = re.sub(r"\D", "", cand)
                    if _card_length_ok(digits) and _CARD_PREFIX.match(digits) and luhn_ok(digits) \
                            and not _after_marker(text, m.start()):
                        spans.append(Span(m.start(), m.start() + len(cand), "CREDIT_CARD"))
                        break
        if "NATIONAL_ID" in self.kinds:
            for country, pattern, valid in self.national_ids:
                spans += [Span(m.start(), m.end(), "NATIONAL_ID", country) for m in pattern.finditer(text)
                          if valid(m) and not _after_marker(text, m.start())]
        if "IP_ADDRESS" in self.kinds:
            spans += [Span(m.start(), m.end(), "IP_ADDRESS") for m in _IPV4.finditer(text)
                      if _valid_ip(m.group(0)) and not _after_marker(text, m.start())]
            if ":" in text:
                spans += [Span(m.start(), m.end(), "IP_ADDRESS") for m in _IPV6.finditer(text)
                          if len(m.group(0)) >= 6 and _valid_ip(m.group(0))]
        if "PHONE" in self.kinds:
            spans += self._phones(text, language)
        ibans, cards = _shaped_like_account(text)
        return [s for s in spans if s.kind == "IBAN" or (s.kind == "CREDIT_CARD" and not _inside(s, ibans))
                or not (_inside(s, ibans) or _inside(s, cards))]

    def _phones(self, text: str, language: Optional[str]) -> List[Span]:
        lang = (language or "").split("_")[0]
        regions = self.regions.get(lang) or self.regions.get("_default", [])
        out = []
        for m in _PHONE.finditer(text):
            # a national-format prefix is too weak a signal (a ZIP+4 code is a valid AU number): cut only +CC runs
            whole = m.group(0)
            for cand in _with_space_prefixes(whole) if whole.startswith(("+", "00")) else [whole]:
                end = m.start() + len(cand)
                digits = sum(c.isdigit() for c in cand)
                if digits < 7 or _DATE.fullmatch(cand) or _GROUPED_AMOUNT.fullmatch(cand) or _DECIMAL.fullmatch(cand) \
                        or _UNIT_AFTER.match(text, end) or _after_marker(text, m.start()):
                    continue
                region = self._phone_region(cand, regions)
                if region is not None:
                    out.append(Span(m.start(), end, "PHONE", region))
                    break
        return out

    def _length_possible(self, digits: str, region: str) -> bool:
        """The national number (national prefix taken off, if written) has a length the region uses;
        regions with irregular prefixes (AR, MX, ...: a prefix pattern for parsing) are always tried."""
        info = self._lengths.get(region)
        if info is None:
            meta = self._pn.PhoneMetadata.metadata_for_region(region)
            regular = meta is not None and meta.national_prefix_for_parsing in (None, meta.national_prefix)
            info = self._lengths[region] = (set(meta.general_desc.possible_length) if regular else None,
                                            (meta.national_prefix or "") if meta is not None else "")
        lengths, prefix = info
        if lengths is None:
            return True
        n = len(digits)
        return n in lengths or bool(prefix and digits.startswith(prefix) and n - len(prefix) in lengths)

    def _phone_region(self, candidate: str, regions: Sequence[str]) -> Optional[str]:
        pn = self._pn
        international = candidate.startswith(("+", "00"))
        number = "+" + candidate[2:] if candidate.startswith("00") else candidate
        digits = re.sub(r"\D", "", number)
        for region in ([None] if international else regions):
            if region is not None and not self._length_possible(digits, region):
                continue  # parse + is_valid_number would refuse it too; parse is the costly part
            try:
                parsed = pn.parse(number, region)
            except pn.NumberParseException:
                continue
            if pn.is_valid_number(parsed):
                return pn.region_code_for_number(parsed) or region or "ZZ"
        return None


def _with_space_prefixes(candidate: str) -> List[str]:
    """The candidate, then its prefixes cut at a space, longest first: a number followed by a space and
    another number (``4463 8914 8324 2016 23.06.2022``) matches as one run that validates as nothing."""
    return [candidate] + [candidate[:i] for i in range(len(candidate) - 1, 0, -1) if candidate[i] == " "]


def _card_length_ok(digits: str) -> bool:
    """Lengths the issuer of the prefix uses (Amex 15, Mastercard 16, Visa 13/16/19, others 14-19)."""
    n = len(digits)
    if digits[:2] in ("34", "37"):
        return n == 15
    if digits[0] in "25":
        return n == 16
    if digits[0] == "4":
        return n in (13, 16, 19)
    return 14 <= n <= 19


def _shaped_like_account(text: str) -> Tuple[List[Tuple[int, int]], List[Tuple[int, int]]]:
    """Ranges shaped like an IBAN, and like a card number, valid or not: their digits are no phone
    number or ID (an IBAN with a typo is still an account number, not a phone number)."""
    ibans = [(m.start(), m.end()) for m in _IBAN.finditer(text) if m.group(0)[:2] in IBAN_LENGTHS]
    cards = [(m.start(), m.end()) for m in _CARD_SHAPE.finditer(text)]
    return ibans, cards


def _inside(span: Span, ranges: List[Tuple[int, int]]) -> bool:
    return any(a <= span.start < b or a < span.end <= b for a, b in ranges)


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def _iban_span(text: str, m: re.Match) -> Optional[Span]:
    """The IBAN at the start of the match, cut at its country's length (the pattern runs on)."""
    length = IBAN_LENGTHS.get(m.group(0)[:2])
    if length is None:
        return None
    count, end = 0, m.start()
    for i, ch in enumerate(m.group(0)):
        if ch != " ":
            count += 1
            if count == length:
                end = m.start() + i + 1
                break
    if count < length or (end < len(text) and text[end].isalnum()):
        return None
    compact = text[m.start():end].replace(" ", "")
    return Span(m.start(), end, "IBAN") if iban_ok(compact) else None


def _resolve_overlaps(spans: List[Span]) -> List[Span]:
    """Non-overlapping spans, by kind priority (KINDS order) then length; sorted by start."""
    rank = {k: i for i, k in enumerate(KINDS)}
    chosen: List[Span] = []
    for s in sorted(spans, key=lambda s: (rank[s.kind], s.start - s.end, s.start)):
        if all(s.end <= c.start or s.start >= c.end for c in chosen):
            chosen.append(s)
    return sorted(chosen, key=lambda s: s.start)


def redact(text: str, spans: Sequence[Span], placeholders: Optional[Dict[str, str]] = None) -> str:
    marks = placeholders or PLACEHOLDERS
    out, pos = [], 0
    for s in spans:
        out += [text[pos:s.start], marks.get(s.kind) or f"<{s.kind}>"]
        pos = s.end
    out.append(text[pos:])
    return "".join(out)
