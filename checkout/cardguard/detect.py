"""Recognising card data in text: primary account numbers (PANs) and card field names.

Pure functions on strings, standard library only, shared by the request guard (which
refuses) and the log filter (which masks), so both agree on what a card number is.

What counts as a PAN (API.md, "Card data is refused everywhere"):

* Digits come in *groups* (maximal runs of decimal digits). A group touching a letter,
  a digit-bearing decimal point or an underscore is part of a longer token (an id such as
  ``chk_4242…``, a hex string, ``0.4242…``) and is never card data; it also breaks a run.
* Stand-alone groups joined by exactly one space or one dash form a *run*
  (``4242 4242 4242 4242``, ``4242-4242-…``). Every window of consecutive whole groups in
  a run whose digits total 13 to 19 is a candidate, so a card followed by its CVV or expiry
  in the same run (``4242 4242 4242 4242 123``) is still found. A single group of more than
  19 digits is an id, never a card.
* A candidate counts when it starts with a card network's IIN range and passes Luhn.
* Two shapes are identifiers by definition and skipped: a UUID (8-4-4-4-12 hex with
  dashes, even when every character happens to be a digit) and an international phone
  number (a ``+`` right before a run of at most 15 digits, the E.164 maximum; otherwise a
  German mobile number such as +49 151… would be taken for a Visa card one time in ten).

Everything here runs in time linear in the input: one regex pass with no nested
quantifiers, and Luhn over a window is answered from prefix sums, not recomputed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from itertools import pairwise
from typing import Final

MIN_PAN_DIGITS: Final = 13
MAX_PAN_DIGITS: Final = 19
# E.164 caps a phone number at 15 digits; a "+" in front of a longer run is not a phone.
_MAX_PHONE_DIGITS: Final = 15
_LAST_KEPT: Final = 4  # PCI DSS allows showing at most the last four digits.

# str patterns: \d is any Unicode decimal digit, so full-width digits are caught too.
_GROUP: Final = re.compile(r"\d+")
_UUID: Final = re.compile(
    r"(?<![0-9A-Za-z_])[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}(?![0-9A-Za-z_])"
)
_SEPARATORS: Final = frozenset(" -")
# Thirteen digits with at most single separators between them: the least any card number
# needs. Most text (headers, ids, names) has none, which keeps the guard off the hot path
# of every request.
_CANDIDATE: Final = re.compile(r"\d(?:[ -]?\d){12}")
# A regex tries every position of the text (16 µs for a 1.3 KB webhook body), so ASCII
# text is asked a looser question first, in C: with every digit read as "0" and every
# space and dash dropped, does "0" x 13 occur? Each _CANDIDATE match becomes such a run,
# so "no" is final (0.3 µs a request line, 1.4 µs that body).
_DIGITS_AS_ZERO: Final = bytes.maketrans(b"0123456789", b"0" * 10)
_THIRTEEN_DIGITS: Final = b"0" * MIN_PAN_DIGITS

# (prefix length, lowest, highest, network). Ranges overlap (RuPay 508 inside Maestro 50,
# Discover 622126-622925 inside UnionPay 62); card_network() tries longer prefixes first so
# the most specific range names the network. Detection only needs "some range matches".
# Deliberately no UATP (leading 1): UATP cards
# are airline-only and never reach a shop checkout, while 13-digit millisecond timestamps
# (1763841393000) start with 1 and are everywhere in JSON; including UATP would refuse them.
_IIN_TABLE: Final[tuple[tuple[int, int, int, str], ...]] = (
    (1, 4, 4, "visa"),
    (2, 51, 55, "mastercard"),
    (4, 2221, 2720, "mastercard"),
    (2, 34, 34, "amex"),
    (2, 37, 37, "amex"),
    (4, 6011, 6011, "discover"),
    (3, 644, 649, "discover"),
    (2, 65, 65, "discover"),
    (6, 622126, 622925, "discover"),
    (3, 300, 305, "diners"),
    (2, 36, 36, "diners"),
    (2, 38, 39, "diners"),
    (4, 3528, 3589, "jcb"),
    (2, 62, 62, "unionpay"),
    (2, 81, 81, "unionpay"),
    (2, 60, 60, "rupay"),
    (2, 50, 50, "maestro"),
    (2, 56, 69, "maestro"),
    (4, 2200, 2204, "mir"),
    (3, 508, 508, "rupay"),
    (3, 652, 653, "rupay"),
)
_IIN_RANGES: Final = tuple(sorted(_IIN_TABLE, key=lambda entry: -entry[0]))  # stable sort

# Luhn's doubling step for one digit: 2d, minus 9 when that has two digits.
_DOUBLED: Final = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)

# Field names compare after dropping case and the separators people put between words.
_NAME_NOISE: Final = str.maketrans("", "", "_- .")
_CARD_FIELD_NAMES: Final = frozenset(
    {
        "cardnumber",
        "cardnum",
        "ccnumber",
        "creditcardnumber",
        "pan",
        "cvv",
        "cvc",
        "cvv2",
        "cvc2",
        "cardcvv",
        "cardcvc",
        "track1",
        "track2",
        "trackdata",
    }
)
_BRACKETS: Final = re.compile(r"[\[\]]+")


def luhn_valid(digits: str) -> bool:
    """Whether a string of decimal digits passes the Luhn (mod 10) check."""
    if not digits or not digits.isdecimal():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        total += _DOUBLED[value] if position % 2 else value
    return total % 10 == 0


def card_network(digits: str) -> str | None:
    """The network whose IIN range the leading digits fall in, or None (UATP included)."""
    for length, low, high, network in _IIN_RANGES:
        if len(digits) >= length and low <= int(digits[:length]) <= high:
            return network
    return None


def find_pans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` character spans of card numbers in ``text``, in order, disjoint.

    A span runs from the first to the last digit (separators inside are included), so
    ``text[start:end]`` is the card number as written.
    """
    return list(_iter_pans(text))


def contains_card_data(text: str) -> bool:
    """Whether ``text`` holds at least one card number."""
    return next(_iter_pans(text), None) is not None


def mask_pans(text: str) -> str:
    """``text`` with every digit of each card number but the last four replaced by ``*``.

    Separators and everything around the card are kept, so a masked log line still reads
    naturally: ``card **** **** **** 4242 declined``.
    """
    pieces: list[str] = []
    done = 0
    for start, end in _iter_pans(text):
        pieces.append(text[done:start])
        to_hide = sum(char.isdecimal() for char in text[start:end]) - _LAST_KEPT
        for char in text[start:end]:
            if char.isdecimal() and to_hide > 0:
                pieces.append("*")
                to_hide -= 1
            else:
                pieces.append(char)
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


@lru_cache(maxsize=4096)
def is_card_field_name(name: str) -> bool:
    """Whether a field, parameter or header name says it carries card data.

    Names are compared whole after dropping case, ``_``, ``-``, spaces and ``.``, so
    ``CardNumber``, ``card-number`` and ``card.number`` match but ``span``, ``pane`` and
    ``company`` do not. Bracketed form names (Stripe style ``card[number]``,
    ``payment_method_data[card][cvc]``) match when one part, or two adjacent parts read
    together, is such a name.
    """
    if "[" not in name:
        return _normalise(name) in _CARD_FIELD_NAMES
    parts = [_normalise(part) for part in _BRACKETS.split(name) if part]
    if any(part in _CARD_FIELD_NAMES for part in parts):
        return True
    return any(left + right in _CARD_FIELD_NAMES for left, right in pairwise(parts))


def _normalise(name: str) -> str:
    return name.translate(_NAME_NOISE).casefold()


def may_hold_pan(text: str) -> bool:
    """False only when ``text`` cannot hold a card number (a cheap, sound pre-check)."""
    if text.isascii():
        squeezed = text.encode("ascii").translate(_DIGITS_AS_ZERO, b" -")
        if _THIRTEEN_DIGITS not in squeezed:
            return False
    return _CANDIDATE.search(text) is not None


def _iter_pans(text: str) -> Iterator[tuple[int, int]]:
    if not may_hold_pan(text):
        return
    for run in _runs(text):
        yield from _pans_in_run(text, run)


def _runs(text: str) -> Iterator[list[tuple[int, int]]]:
    """Maximal runs of stand-alone digit groups joined by single separators."""
    uuid_spans = [match.span() for match in _UUID.finditer(text)] if "-" in text else []
    next_uuid = 0
    run: list[tuple[int, int]] = []
    for match in _GROUP.finditer(text):
        start, end = match.span()
        while next_uuid < len(uuid_spans) and uuid_spans[next_uuid][1] <= start:
            next_uuid += 1
        in_uuid = next_uuid < len(uuid_spans) and uuid_spans[next_uuid][0] < end
        if in_uuid or not _stands_alone(text, start, end):
            # A group inside a longer token is not card data and breaks any run it touches.
            if run:
                yield run
            run = []
            continue
        if run and start == run[-1][1] + 1 and text[run[-1][1]] in _SEPARATORS:
            run.append((start, end))
            continue
        if run:
            yield run
        run = [(start, end)]
    if run:
        yield run


def _stands_alone(text: str, start: int, end: int) -> bool:
    """Whether the digit group ``text[start:end]`` is a word of its own."""
    if start > 0:
        before = text[start - 1]
        if before.isalnum() or before == "_":
            return False
        if before == "." and start > 1 and text[start - 2].isdecimal():
            return False  # the fraction of a decimal number, 0.4242…
    if end < len(text):
        after = text[end]
        if after.isalnum() or after == "_":
            return False
        if after == "." and end + 1 < len(text) and text[end + 1].isdecimal():
            return False  # the integer part of a decimal number, 4242….5
    return True


def _pans_in_run(text: str, run: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    lengths = [end - start for start, end in run]
    total_digits = sum(lengths)
    if total_digits < MIN_PAN_DIGITS:
        return
    first_start = run[0][0]
    if first_start > 0 and text[first_start - 1] == "+" and total_digits <= _MAX_PHONE_DIGITS:
        return  # an international phone number, +49 1512 3456789

    digits = "".join(_ascii_digits(text[start:end]) for start, end in run)
    # Luhn sums for every window from prefix sums: index p is doubled when its distance
    # from the window's last digit is odd, i.e. when p's parity differs from the last's.
    # doubled_even[k] sums digits[:k] doubling even indices; doubled_odd doubles odd ones.
    doubled_even = [0]
    doubled_odd = [0]
    for index, char in enumerate(digits):
        value = ord(char) - 48
        doubled_even.append(doubled_even[-1] + (_DOUBLED[value] if index % 2 == 0 else value))
        doubled_odd.append(doubled_odd[-1] + (value if index % 2 == 0 else _DOUBLED[value]))

    offsets: list[int] = []  # index in `digits` where each group starts
    position = 0
    for length in lengths:
        offsets.append(position)
        position += length

    merged: tuple[int, int] | None = None
    for first in range(len(run)):
        window_digits = 0
        for last in range(first, len(run)):
            window_digits += lengths[last]
            if window_digits > MAX_PAN_DIGITS:
                break
            if window_digits < MIN_PAN_DIGITS:
                continue
            low = offsets[first]
            high = low + window_digits  # exclusive
            sums = doubled_odd if (high - 1) % 2 == 0 else doubled_even
            if (sums[high] - sums[low]) % 10 or card_network(digits[low : low + 6]) is None:
                continue
            if window_digits == _EAN_DIGITS and _is_ean13(digits[low:high]):
                continue
            span = (run[first][0], run[last][1])
            # Overlapping windows are one finding: report their union, so masking it
            # cannot leave digits of either visible beyond the last four.
            if merged is not None and span[0] < merged[1]:
                merged = (merged[0], max(merged[1], span[1]))
            else:
                if merged is not None:
                    yield merged
                merged = span
    if merged is not None:
        yield merged


# A 13-digit run that carries a valid EAN-13 check digit is taken for a barcode. Shops use
# barcodes as SKUs, and German ones (prefixes 400-440) fall in Visa's range: about one in
# ten also passes Luhn and would be refused. 13-digit Visa numbers have not been issued
# for years; 16- and 19-digit ones, and every other length, are never exempted.
_EAN_DIGITS: Final = 13


def _is_ean13(digits: str) -> bool:
    weighted = sum((ord(c) - 48) * (3 if i % 2 else 1) for i, c in enumerate(digits[:12]))
    return (weighted + ord(digits[12]) - 48) % 10 == 0


def _ascii_digits(group: str) -> str:
    if group.isascii():
        return group
    return "".join(str(int(char)) for char in group)
