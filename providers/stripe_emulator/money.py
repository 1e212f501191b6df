"""Currency rules Stripe applies to amounts (integers of minor units, always)."""

from __future__ import annotations

from providers.stripe_emulator.errors import InvalidRequest


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Stripe's presentment currencies (https://stripe.com/docs/currencies), lower-case as on the wire.
SUPPORTED = _codes(
    """
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd
    bwp byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp
    gel gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw
    kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad
    ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek
    sgd shp sle sos srd std szl thb tjs tnd top try ttd twd tzs uah ugx uyu uzs vnd vuv wst
    xaf xcd xof xpf yer zar zmw
    """
)

ZERO_DECIMAL = _codes("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf")

# Amounts are in thousandths, but card networks settle only to hundredths, so Stripe
# requires the last digit to be 0.
THREE_DECIMAL = _codes("bhd jod kwd omr tnd")


def normalize_currency(raw: str) -> str:
    """Stripe accepts any case on input and always answers lower-case."""
    currency = raw.lower()
    if currency not in SUPPORTED:
        raise InvalidRequest(
            f"Invalid currency: {raw}. Stripe currently supports these currencies: "
            + ", ".join(sorted(SUPPORTED)),
            param="currency",
        )
    return currency


def check_amount(amount: int, currency: str, param: str = "amount") -> None:
    if currency in THREE_DECIMAL and amount % 10 != 0:
        raise InvalidRequest(
            f"Invalid amount: {amount}. {currency} is a three-decimal currency, so the "
            "amount must be a multiple of 10 (its last digit must be 0).",
            code="parameter_invalid_integer",
            param=param,
        )


def format_amount(amount: int, currency: str) -> str:
    """`1050, "usd"` → `"10.50 USD"`, by integer arithmetic only."""
    digits = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    if digits == 0:
        return f"{amount} {currency.upper()}"
    whole, fraction = divmod(amount, 10**digits)
    return f"{whole}.{fraction:0{digits}d} {currency.upper()}"
