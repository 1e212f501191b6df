"""The demo catalog ``make run`` starts with: prices in USD, EUR, JPY (no minor unit) and
KWD (three), so every exponent is exercised from the first checkout."""

from __future__ import annotations

from checkout.services.catalog import CatalogService

DEMO_PRODUCTS: list[tuple[str, str, dict[str, int]]] = [
    ("TSHIRT-BLK-M", "Black T-shirt, M", {"USD": 2500, "EUR": 2300, "JPY": 3800, "KWD": 7700}),
    ("MUG-WHITE", "White mug", {"USD": 1200, "EUR": 1100, "JPY": 1800, "KWD": 3700}),
    ("HOODIE-GRY-L", "Grey hoodie, L", {"USD": 5900, "EUR": 5500, "JPY": 8900, "KWD": 18100}),
    ("STICKER-PACK", "Sticker pack", {"USD": 499, "EUR": 450, "JPY": 700, "KWD": 1500}),
    ("CAP-NAVY", "Navy cap", {"USD": 1999, "EUR": 1850, "JPY": 2900, "KWD": 6100}),
]


def seed_demo_catalog(catalog: CatalogService) -> int:
    for sku, name, prices in DEMO_PRODUCTS:
        catalog.upsert_sync(sku=sku, name=name, active=True, prices=prices)
    return len(DEMO_PRODUCTS)
