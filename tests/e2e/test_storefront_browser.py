"""The demo storefront in headless Chromium against a real ``checkout serve``: guest
purchases (after a decline, with 3-D Secure, through a cut connection), an account's order
history, and the proof that no card number reached our listeners, our database or our logs.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``.ci/run``), driven by
Playwright with ``executable_path``; no browser is downloaded. Every request that reaches
our listeners is written down by the test-only recorder (``CHECKOUT_TEST_RECORD_REQUESTS``).
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect, sync_playwright

from tests.e2e.served import CHECKOUT, free_port, serve_env, stop_process, wait_ready

CHROMIUM = Path("/usr/bin/chromium")
expect.set_options(timeout=20_000)
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "storefront"
SECRET = "sk_test_emulator_dev"
CARD_OK = "4242 4242 4242 4242"
CARD_DECLINED = "4000 0000 0000 0002"
CARD_3DS = "4000 0027 6000 3184"
CARDS = (CARD_OK, CARD_DECLINED, CARD_3DS)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install -y chromium)"
    ),
]


def card_patterns(card: str) -> list[str]:
    """The ways a card number can be written down: bare, spaced, dashed, JSON-escaped."""
    digits = card.replace(" ", "")
    groups = [digits[i : i + 4] for i in range(0, len(digits), 4)]
    return [digits, " ".join(groups), "-".join(groups), "+".join(groups), "%20".join(groups)]


def find_cards(text: str) -> list[str]:
    return [p for card in CARDS for p in card_patterns(card) if p in text]


@dataclass
class Shop:
    api: str
    storefront: str
    stripe: str
    data_dir: Path
    log: Path
    recorded: Path
    browser_requests: list[Request] = field(default_factory=list)

    def charges(self) -> int:
        calls = httpx.get(
            f"{self.stripe}/_emulator/calls", headers={"Authorization": f"Bearer {SECRET}"}
        ).json()["calls"]
        return int(calls.get("payment_intents.create", 0))

    def requests_at_our_listeners(self) -> list[dict[str, Any]]:
        lines = self.recorded.read_text().splitlines() if self.recorded.exists() else []
        return [json.loads(line) for line in lines]


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    ports = {name: free_port() for name in ("public", "private", "stripe", "paypal", "storefront")}
    data_dir = tmp_path / "data"
    env = serve_env(f"sqlite:///{data_dir / 'checkout.db'}", data_dir, ports)
    env["CHECKOUT_TEST_RECORD_REQUESTS"] = str(tmp_path / "requests.jsonl")
    log = tmp_path / "serve.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [CHECKOUT, "serve"], env=env, stdout=subprocess.PIPE, stderr=err, text=True
        )
        try:
            lines = wait_ready(proc, 5)
            assert f"storefront ready on http://127.0.0.1:{ports['storefront']}" in lines
            subprocess.run([CHECKOUT, "seed"], env=env, check=True, capture_output=True, timeout=60)
            yield Shop(
                api=f"http://127.0.0.1:{ports['public']}",
                storefront=f"http://127.0.0.1:{ports['storefront']}",
                stripe=f"http://127.0.0.1:{ports['stripe']}",
                data_dir=data_dir,
                log=log,
                recorded=tmp_path / "requests.jsonl",
            )
        finally:
            stop_process(proc)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's own sandbox cannot start.
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


def open_shop(browser: Browser, shop: Shop) -> Page:
    page = browser.new_page()
    page.set_default_timeout(20_000)
    # A lambda, not the bound method: Playwright tags handlers with an attribute, which a
    # builtin method cannot take.
    page.on("request", lambda request: shop.browser_requests.append(request))  # noqa: PLW0108
    page.goto(shop.storefront)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    return page


def add_to_cart(page: Page, *names: str) -> None:
    for name in names:
        page.get_by_role("button", name=f"Add {name} to cart").click()


def fill_contact(page: Page, email: str) -> None:
    page.fill("#email", email)
    page.fill("#ship-name", "Bo Buyer")
    page.fill("#ship-line1", "1 Main St")
    page.fill("#ship-city", "Springfield")
    page.fill("#ship-postal", "12345")


def pay_with(page: Page, card: str) -> None:
    frame = page.frame_locator("iframe.hc-card-frame")
    frame.locator("#number").fill(card)
    frame.locator("#exp").fill("12 / 34")
    frame.locator("#cvc").fill("123")
    page.click("#pay")


def confirmed_order(page: Page) -> str:
    expect(page.locator("#confirmation")).to_be_visible()
    order_id = page.text_content("#order-id") or ""
    assert re.fullmatch(r"ord_[0-9a-f]{24,}", order_id), order_id
    return order_id


def continue_shopping(page: Page) -> None:
    page.click("#continue")
    expect(page.locator("#checkout-form")).to_be_visible()


def test_storefront_purchases_never_let_a_card_number_reach_us(
    shop: Shop, browser: Browser
) -> None:
    page = open_shop(browser, shop)

    # 1. A guest buys two items: the first card is declined, the buyer tries another.
    add_to_cart(page, "Black T-shirt, M", "White mug")
    fill_contact(page, "guest@example.com")
    pay_with(page, CARD_DECLINED)
    expect(page.locator("#message")).to_contain_text("Your card was declined.")
    expect(page.locator("#pay")).to_be_enabled()
    pay_with(page, CARD_OK)
    first_order = confirmed_order(page)
    expect(page.locator("#confirmation-lines li")).to_have_count(2)
    expect(page.locator("#confirmation-total")).to_have_text("$37.00")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "confirmation.png"
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"storefront confirmation screenshot: {screenshot}")
    continue_shopping(page)

    # 2. A 3-D Secure card: the emulator's challenge page, Complete, back to the shop.
    add_to_cart(page, "Grey hoodie, L")
    pay_with(page, CARD_3DS)
    page.wait_for_url(f"{shop.stripe}/3ds/**")
    page.get_by_role("button", name="Complete").click()
    page.wait_for_url(f"{shop.storefront}/")
    second_order = confirmed_order(page)
    assert second_order != first_order
    expect(page.locator("#confirmation-total")).to_have_text("$59.00")
    continue_shopping(page)

    # 3. The connection is cut once after the pay request reached us: the SDK sends it
    #    again with the same Idempotency-Key, and the buyer is charged once.
    cuts: list[str] = []

    def cut_first_answer(route: Route) -> None:
        if route.request.method == "POST" and not cuts:
            cuts.append(route.request.all_headers()["idempotency-key"])
            route.fetch()  # the request reaches the server, which charges...
            route.abort("connectionreset")  # ...and the browser never hears back
            return
        route.continue_()

    page.route(re.compile(r".*/v1/checkouts/chk_[0-9a-f]+/payments$"), cut_first_answer)
    charges_before = shop.charges()
    add_to_cart(page, "Sticker pack")
    fill_contact(page, "guest@example.com")  # the page was reloaded on the way back from 3DS
    pay_with(page, CARD_OK)
    third_order = confirmed_order(page)
    page.unroute(re.compile(r".*/v1/checkouts/chk_[0-9a-f]+/payments$"))
    assert shop.charges() - charges_before == 1
    pays = [
        r
        for r in shop.requests_at_our_listeners()
        if r["method"] == "POST" and str(r["path"]).endswith("/payments")
    ]
    keys = [dict(r["headers"]).get("idempotency-key") for r in pays]
    assert keys.count(cuts[0]) == 2, keys  # the cut attempt and its retry, one key
    assert len({third_order, second_order, first_order}) == 3
    continue_shopping(page)

    # 4. An account: register, sign in, buy, and find the order in the history.
    page.fill("#account-email", "member@example.com")
    page.fill("#account-password", "seven tidy otters juggle plums")
    page.click("#register")
    expect(page.locator("#me-email")).to_have_text("member@example.com")
    expect(page.locator("#order-list")).to_contain_text("No orders yet.")
    add_to_cart(page, "Navy cap")
    fill_contact(page, "member@example.com")
    pay_with(page, CARD_OK)
    member_order = confirmed_order(page)
    expect(page.locator(f'#order-list li[data-order="{member_order}"]')).to_be_visible()
    page.click("#signout")
    expect(page.locator("#signin-form")).to_be_visible()
    page.close()

    # 5. The proof. The cards did reach the provider's frame origin (so the checks below
    #    would see them if they went anywhere else)...
    to_provider = [
        r for r in shop.browser_requests if r.url.startswith(f"{shop.stripe}/v1/payment_methods")
    ]
    assert any(find_cards(r.post_data or "") for r in to_provider)
    # ...and not one request from the browser to our API or storefront carried one...
    ours = [r for r in shop.browser_requests if r.url.startswith((shop.api, shop.storefront))]
    assert len(ours) > 20
    for r in ours:
        seen = " ".join([r.url, json.dumps(r.headers), r.post_data or ""])
        assert not find_cards(seen), (r.method, r.url)
    # ...nor any request that arrived at our listeners, from anyone (webhooks included)...
    arrived = shop.requests_at_our_listeners()
    assert len(arrived) > 20
    assert {r["listener"] for r in arrived} == {"public"}
    for entry in arrived:
        body = base64.b64decode(entry["body_b64"]).decode("utf-8", "replace")
        seen = " ".join([entry["path"], entry["query"], json.dumps(entry["headers"]), body])
        assert not find_cards(seen), (entry["method"], entry["path"])
    # ...nor is one in any file of the data dir (the SQLite database and its WAL, the key
    # store, dev mail) or in the logs.
    files = [p for p in shop.data_dir.rglob("*") if p.is_file()]
    assert any(p.name == "checkout.db" for p in files)
    for path in [*files, shop.log]:
        text = path.read_bytes().decode("latin-1")
        assert not find_cards(text), path
