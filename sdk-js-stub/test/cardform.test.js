import assert from "node:assert/strict";
import { test } from "node:test";

import { CardFormError, CheckoutError, mountCardForm } from "../src/checkout.js";

// A minimal fake page: just what mountCardForm touches.
function fakePage(origin = "http://shop.test") {
  const listeners = new Set();
  const frameWindow = { sent: [], postMessage(message, targetOrigin) { this.sent.push({ message, targetOrigin }); } };
  const host = { children: [], appendChild(child) { this.children.push(child); } };
  const win = {
    location: { origin },
    document: {
      querySelector: (selector) => (selector === "#card" ? host : null),
      createElement: (tag) => ({
        tag,
        style: {},
        attributes: {},
        contentWindow: frameWindow,
        setAttribute(name, value) { this.attributes[name] = value; },
        remove() { this.removed = true; },
      }),
    },
    addEventListener: (type, fn) => type === "message" && listeners.add(fn),
    removeEventListener: (type, fn) => listeners.delete(fn),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (id) => clearTimeout(id),
    deliver(event) { for (const fn of listeners) fn(event); },
    listeners,
  };
  return { win, host, frameWindow };
}

const FRAME_ORIGIN = "http://stripe.test:8010";

test("the emulator's frame is embedded for this page's origin with the publishable key", () => {
  const { win, host } = fakePage();
  mountCardForm("#card", { provider: "stripe", publishableKey: "pk_test_x", hostedFieldsUrl: `${FRAME_ORIGIN}/`, window: win });
  const frame = host.children[0];
  const src = new URL(frame.src);
  assert.equal(src.origin, FRAME_ORIGIN);
  assert.equal(src.pathname, "/elements/card");
  assert.equal(src.searchParams.get("key"), "pk_test_x");
  assert.equal(src.searchParams.get("origin"), "http://shop.test");
  assert.equal(frame.attributes.sandbox, "allow-scripts allow-same-origin");
});

test("tokenize asks the frame at its origin and takes only its answer", async () => {
  const { win, frameWindow } = fakePage();
  const form = mountCardForm("#card", { publishableKey: "pk_test_x", hostedFieldsUrl: FRAME_ORIGIN, window: win });
  win.deliver({ origin: FRAME_ORIGIN, source: frameWindow, data: { type: "hc:ready" } });
  const pending = form.tokenize();
  await new Promise((resolve) => setImmediate(resolve));
  const [{ message, targetOrigin }] = frameWindow.sent;
  assert.equal(targetOrigin, FRAME_ORIGIN);
  assert.equal(message.type, "hc:tokenize");
  const forged = { type: "hc:token", requestId: message.requestId, token: "pm_forged" };
  win.deliver({ origin: "http://evil.test", source: frameWindow, data: forged });
  win.deliver({ origin: FRAME_ORIGIN, source: {}, data: forged });
  win.deliver({
    origin: FRAME_ORIGIN,
    source: frameWindow,
    data: { type: "hc:token", requestId: message.requestId, token: "pm_real", card: { brand: "visa", last4: "4242" } },
  });
  const result = await pending;
  assert.deepEqual(result, { token: "pm_real", card: { brand: "visa", last4: "4242" } });
});

test("the frame's refusal becomes a CardFormError with the provider's code", async () => {
  const { win, frameWindow } = fakePage();
  const form = mountCardForm("#card", { publishableKey: "pk_test_x", hostedFieldsUrl: FRAME_ORIGIN, window: win });
  win.deliver({ origin: FRAME_ORIGIN, source: frameWindow, data: { type: "hc:ready" } });
  const pending = form.tokenize();
  await new Promise((resolve) => setImmediate(resolve));
  const { requestId } = frameWindow.sent[0].message;
  win.deliver({
    origin: FRAME_ORIGIN,
    source: frameWindow,
    data: { type: "hc:error", requestId, error: { code: "invalid_number", message: "Your card number is invalid." } },
  });
  await assert.rejects(pending, (error) => error instanceof CardFormError && error.code === "invalid_number");
  form.destroy();
  assert.equal(win.listeners.size, 0);
});

test("mountCardForm refuses what it cannot do", () => {
  const { win } = fakePage();
  assert.throws(() => mountCardForm("#card", { publishableKey: "pk_test_x" }), (e) => e instanceof CheckoutError && e.code === "no_dom");
  assert.throws(() => mountCardForm("#card", { provider: "paypal", publishableKey: "pk_test_x", window: win }), (e) => e.code === "unsupported_provider");
  assert.throws(() => mountCardForm("#card", { publishableKey: "sk_test_secret", window: win }), (e) => e.code === "invalid_publishable_key");
  assert.throws(() => mountCardForm("#nope", { publishableKey: "pk_test_x", hostedFieldsUrl: FRAME_ORIGIN, window: win }), (e) => e.code === "no_element");
});
