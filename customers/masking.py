"""Personal values that cannot leak by being printed.

``Personal`` wraps a value; ``repr``/``str``/f-strings show a mask, and the real value
comes out only through ``expose()`` so every use of it is visible in review.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


def mask_email(email: str) -> str:
    local, sep, domain = email.partition("@")
    if not sep:
        return mask_text(email)
    return f"{local[:1]}***@{domain}"


def mask_text(text: str) -> str:
    return "***" if text else ""


class Personal(Generic[T]):
    __slots__ = ("_mask", "_value")

    def __init__(self, value: T, mask: str = "***") -> None:
        self._value = value
        self._mask = mask

    @classmethod
    def email(cls, value: str) -> Personal[str]:
        return Personal(value, mask_email(value))

    def expose(self) -> T:
        return self._value

    @property
    def masked(self) -> str:
        return self._mask

    def __repr__(self) -> str:
        return f"Personal({self._mask!r})"

    def __str__(self) -> str:
        return self._mask

    def __format__(self, spec: str) -> str:
        return self._mask

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Personal) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        # Refuse pickling: a pickle would carry the value past the mask.
        raise TypeError("personal values are not picklable")
