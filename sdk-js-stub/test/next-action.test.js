import assert from "node:assert/strict";
import { test } from "node:test";

import { CheckoutError, createClient } from "../src/checkout.js";
import { fakeApi, noSleep } from "../testing/fake-api.js";

function storage() {
  const values = new Map();
  return {
    values,
    getItem: (k) => (values.has(k) ? values.get(k) : null),
    setItem: (k, v) => values.set(k, String(v)),
    removeItem: (k) => values.delete(k),
  };
}

function api3ds() {
  const api = fakeApi();
  api.on("POST", /\/payments\/pay_3ds\/refresh$/, () => ({
    status: 200,
    body: { id: "pay_3ds", status: "captured", order_id: "ord_7" },
  }));
  return api;
}

const REQUIRES_ACTION = {
  id: "pay_3ds",
  status: "requires_action",
  next_action: { type: "redirect", url: "http://stripe.test/3ds/pi_1?token=t" },
};

test("a payment without next_action is returned as it is", async () => {
  const client = createClient({ baseUrl: "http://api.test", fetch: fakeApi().fetch });
  const payment = { id: "pay_1", status: "captured" };
  assert.equal(await client.checkouts.handleNextAction("chk_1", payment), payment);
});

test("a redirect navigates to the challenge and the return page resumes the payment", async () => {
  const kept = storage();
  const api = api3ds();
  const first = createClient({ baseUrl: "http://api.test", fetch: api.fetch, storage: kept, sleep: noSleep });
  first.checkouts.remember("chk_1", "secret_1");
  const visited = [];
  const result = await first.checkouts.handleNextAction("chk_1", REQUIRES_ACTION, { navigate: (url) => visited.push(url) });
  assert.equal(result, null);
  assert.deepEqual(visited, ["http://stripe.test/3ds/pi_1?token=t"]);

  // Back from the challenge: a new page, a new client, the same storage.
  const second = createClient({ baseUrl: "http://api.test", fetch: api.fetch, storage: kept, sleep: noSleep });
  const resumed = await second.checkouts.resumeAfterRedirect();
  assert.equal(resumed.checkoutId, "chk_1");
  assert.equal(resumed.payment.order_id, "ord_7");
  assert.equal(api.requests[0].headers["X-Checkout-Secret"], "secret_1");
  assert.equal(await second.checkouts.resumeAfterRedirect(), null, "resumed once");
});

test("provider_sdk runs the provider's SDK through the card form, then refreshes", async () => {
  const api = api3ds();
  const client = createClient({ baseUrl: "http://api.test", fetch: api.fetch });
  const payment = { id: "pay_3ds", status: "requires_action", next_action: { type: "provider_sdk", client_secret: "pi_1_secret" } };
  await assert.rejects(client.checkouts.handleNextAction("chk_1", payment), (error) => {
    return error instanceof CheckoutError && error.code === "next_action_unsupported";
  });
  const secrets = [];
  const cardForm = { handleNextAction: async (secret) => secrets.push(secret) };
  const done = await client.checkouts.handleNextAction("chk_1", payment, { cardForm });
  assert.deepEqual(secrets, ["pi_1_secret"]);
  assert.equal(done.status, "captured");
});
