import assert from "node:assert/strict";
import { test } from "node:test";

import {
  CardDataForbiddenError,
  CheckoutError,
  ConflictError,
  NetworkError,
  NotFoundError,
  PaymentFailedError,
  ValidationError,
  createClient,
} from "../src/checkout.js";
import { fakeApi, noSleep } from "../testing/fake-api.js";

const CHECKOUT = {
  id: "chk_abc",
  client_secret: "chk_abc_secret_xyz",
  status: "open",
  currency: "USD",
  lines: [],
  total: { amount: 2500, currency: "USD" },
};

function shop() {
  const api = fakeApi();
  api.on("POST", /^\/v1\/checkouts$/, () => ({ status: 201, body: CHECKOUT }));
  api.on("GET", /^\/v1\/checkouts\/chk_abc$/, (req) =>
    req.headers["X-Checkout-Secret"] === CHECKOUT.client_secret
      ? { status: 200, body: { ...CHECKOUT, client_secret: undefined } }
      : { status: 404, body: { error: { code: "not_found", message: "No such checkout", request_id: "req_nf" } } },
  );
  api.on("POST", /^\/v1\/checkouts\/chk_abc\/payments$/, (req, a) => {
    const body = JSON.parse(req.body);
    if (body.payment_token === "pm_declined") {
      return {
        status: 402,
        body: { error: { code: "payment_failed", message: "Your card was declined.", decline_code: "generic_decline", request_id: "req_d" } },
      };
    }
    a.charges += 1;
    return { status: 201, body: { id: `pay_${a.charges}`, status: "captured", amount: CHECKOUT.total, order_id: "ord_1" } };
  });
  const client = createClient({ baseUrl: "http://api.test/", fetch: api.fetch, sleep: noSleep });
  return { api, client };
}

test("products.list asks the catalog with its query and no credentials", async () => {
  const api = fakeApi();
  api.on("GET", /^\/v1\/products$/, () => ({ status: 200, body: { data: [{ sku: "MUG" }], has_more: false } }));
  const client = createClient({ baseUrl: "http://api.test", fetch: api.fetch });
  const page = await client.products.list({ limit: 5, currency: "EUR" });
  assert.deepEqual(page.data, [{ sku: "MUG" }]);
  assert.equal(api.requests[0].search, "?limit=5&currency=EUR");
  assert.equal(api.requests[0].headers.Authorization, undefined);
});

test("a created checkout's secret is sent with later reads of it", async () => {
  const { api, client } = shop();
  const checkout = await client.checkouts.create({ currency: "USD", lines: [{ sku: "MUG", quantity: 2 }] });
  assert.equal(checkout.id, "chk_abc");
  assert.match(api.requests[0].headers["Idempotency-Key"], /^[0-9a-f-]{32,36}$/);
  const again = await client.checkouts.get("chk_abc");
  assert.equal(again.status, "open");
  assert.equal(api.requests[1].headers["X-Checkout-Secret"], "chk_abc_secret_xyz");
});

test("API errors become typed errors carrying the contract's code", async () => {
  const { client } = shop();
  await assert.rejects(client.checkouts.get("chk_other"), (error) => {
    assert.ok(error instanceof NotFoundError && error instanceof CheckoutError);
    assert.equal(error.code, "not_found");
    assert.equal(error.status, 404);
    assert.equal(error.message, "Not found");
    assert.equal(error.requestId, "req_1");
    return true;
  });
  const api = fakeApi();
  api.on("POST", /^\/v1\/customers$/, () => ({
    status: 422,
    body: { error: { code: "validation_error", message: "Too short", fields: { password: "at least 12" } } },
  }));
  const other = createClient({ baseUrl: "http://api.test", fetch: api.fetch });
  await assert.rejects(other.customers.register({ email: "a@b.c", password: "x" }), (error) => {
    assert.ok(error instanceof ValidationError);
    assert.deepEqual(error.fields, { password: "at least 12" });
    return true;
  });
});

test("a pay request cut after it arrived is retried with the same key and charges once", async () => {
  const { api, client } = shop();
  await client.checkouts.create({ currency: "USD", lines: [] });
  api.failNext.push("cut");
  const payment = await client.checkouts.pay("chk_abc", { paymentToken: "pm_ok" });
  assert.equal(payment.status, "captured");
  const pays = api.requests.filter((r) => r.path.endsWith("/payments"));
  assert.equal(pays.length, 2);
  assert.equal(pays[0].headers["Idempotency-Key"], pays[1].headers["Idempotency-Key"]);
  assert.equal(pays[0].body, pays[1].body);
  assert.equal(api.charges, 1);
});

test("a pay request lost before arriving is sent again with the same key", async () => {
  const { api, client } = shop();
  await client.checkouts.create({ currency: "USD", lines: [] });
  api.failNext.push("network", "network");
  const payment = await client.checkouts.pay("chk_abc", { paymentToken: "pm_ok" });
  assert.equal(payment.id, "pay_1");
  assert.equal(api.charges, 1);
});

test("a retry that meets the first attempt still running waits and asks again", async () => {
  const { api, client } = shop();
  await client.checkouts.create({ currency: "USD", lines: [] });
  let calls = 0;
  api.handlers.unshift({
    method: "POST",
    pattern: /\/payments$/,
    handler: () => {
      calls += 1;
      if (calls === 1) {
        return { status: 409, headers: { "Retry-After": "1" }, body: { error: { code: "idempotency_conflict", message: "still running" } } };
      }
      return { status: 201, body: { id: "pay_9", status: "captured" } };
    },
  });
  // The fake stores the 409 under the key as the real server would not; forget it.
  const realFetch = api.fetch;
  api.fetch = async (url, init) => {
    const answer = await realFetch(url, init);
    api.replies.clear();
    return answer;
  };
  const slept = [];
  const c2 = createClient({ baseUrl: "http://api.test", fetch: api.fetch, sleep: async (ms) => slept.push(ms) });
  c2.checkouts.remember("chk_abc", CHECKOUT.client_secret);
  const payment = await c2.checkouts.pay("chk_abc", { paymentToken: "pm_ok" });
  assert.equal(payment.id, "pay_9");
  assert.deepEqual(slept, [1000]);
  const keys = api.requests.filter((r) => r.path.endsWith("/payments")).map((r) => r.headers["Idempotency-Key"]);
  assert.equal(new Set(keys).size, 1);
  assert.equal(client.baseUrl, "http://api.test");
});

test("when no attempt gets an answer, the error gives the key back to try the same attempt later", async () => {
  const { api, client } = shop();
  await client.checkouts.create({ currency: "USD", lines: [] });
  api.failNext.push("network", "network", "network", "network");
  let key;
  await assert.rejects(client.checkouts.pay("chk_abc", { paymentToken: "pm_ok" }), (error) => {
    assert.ok(error instanceof NetworkError);
    assert.equal(error.code, "network_error");
    key = error.idempotencyKey;
    return typeof key === "string";
  });
  const payment = await client.checkouts.pay("chk_abc", { paymentToken: "pm_ok", idempotencyKey: key });
  assert.equal(payment.status, "captured");
  const pays = api.requests.filter((r) => r.path.endsWith("/payments"));
  assert.deepEqual(pays.map((r) => r.headers["Idempotency-Key"]), [key]);
});

test("a decline is a PaymentFailedError with the decline code; the next attempt has a new key", async () => {
  const { api, client } = shop();
  await client.checkouts.create({ currency: "USD", lines: [] });
  await assert.rejects(client.checkouts.pay("chk_abc", { paymentToken: "pm_declined" }), (error) => {
    assert.ok(error instanceof PaymentFailedError);
    assert.equal(error.code, "payment_failed");
    assert.equal(error.declineCode, "generic_decline");
    assert.equal(error.message, "Your card was declined.");
    return true;
  });
  await client.checkouts.pay("chk_abc", { paymentToken: "pm_ok" });
  const pays = api.requests.filter((r) => r.path.endsWith("/payments"));
  assert.equal(pays.length, 2, "a decline is an answer, not retried");
  assert.notEqual(pays[0].headers["Idempotency-Key"], pays[1].headers["Idempotency-Key"]);
});

test("a 409 conflict (already paid) is not retried", async () => {
  const api = fakeApi();
  api.on("POST", /\/payments$/, () => ({ status: 409, body: { error: { code: "conflict", message: "Already paid" } } }));
  const client = createClient({ baseUrl: "http://api.test", fetch: api.fetch, sleep: noSleep });
  await assert.rejects(client.checkouts.pay("chk_abc", { paymentToken: "pm_ok" }), ConflictError);
  assert.equal(api.requests.length, 1);
});

test("pay tokenizes through the card form and sends only the token", async () => {
  const { api, client } = shop();
  await client.checkouts.create({ currency: "USD", lines: [] });
  const cardForm = { tokenize: async () => ({ token: "pm_from_frame", card: { brand: "visa", last4: "4242" } }) };
  await client.checkouts.pay("chk_abc", { cardForm, returnUrl: "http://shop.test/?r=1" });
  const sent = JSON.parse(api.requests.at(-1).body);
  assert.deepEqual(sent, { provider: "stripe", payment_token: "pm_from_frame", return_url: "http://shop.test/?r=1" });
});

test("card numbers and card fields are refused before anything is sent", async () => {
  const { api, client } = shop();
  const attempts = [
    () => client.checkouts.pay("chk_abc", { paymentToken: "4242 4242 4242 4242" }),
    () => client.checkouts.pay("chk_abc", { paymentToken: "4000-0027-6000-3184" }),
    () => client.checkouts.create({ currency: "USD", lines: [], card_number: "x" }),
    () => client.checkouts.update("chk_abc", { shipping_address: { line1: "4242424242424242" } }),
    () => client.checkouts.create({ currency: "USD", lines: [], metadata: { cvc: "123" } }),
  ];
  for (const attempt of attempts) {
    await assert.rejects(attempt(), (error) => error instanceof CardDataForbiddenError && error.code === "card_data_forbidden");
  }
  assert.equal(api.requests.length, 0);
  // Ids and other digits are not card data.
  await client.checkouts.create({ currency: "USD", lines: [{ sku: "SKU-4242424242424242X", quantity: 1 }], email: "a4242424242424242@x.y" });
  assert.equal(api.requests.length, 1);
});

test("sign-in keeps the token for later calls and sign-out forgets it even if the call fails", async () => {
  const api = fakeApi();
  api.on("POST", /^\/v1\/sessions$/, () => ({ status: 201, body: { token: "tok_1", expires_at: "2030-01-01T00:00:00Z" } }));
  api.on("GET", /^\/v1\/me$/, (req) => ({ status: 200, body: { id: "cus_1", auth: req.headers.Authorization } }));
  api.on("GET", /^\/v1\/me\/orders$/, () => ({ status: 200, body: { data: [{ id: "ord_1" }], has_more: false } }));
  api.on("DELETE", /^\/v1\/sessions\/current$/, () => ({ status: 500, body: { error: { code: "internal", message: "boom" } } }));
  const client = createClient({ baseUrl: "http://api.test", fetch: api.fetch });
  await client.customers.signIn({ email: "a@b.c", password: "correct horse battery" });
  assert.equal(client.customers.isSignedIn(), true);
  assert.equal((await client.customers.me()).auth, "Bearer tok_1");
  assert.equal((await client.customers.orders({ limit: 10 })).data[0].id, "ord_1");
  assert.equal(api.requests.at(-1).search, "?limit=10");
  await assert.rejects(client.customers.signOut());
  assert.equal(client.customers.isSignedIn(), false);
  assert.equal(api.requests[0].headers.Authorization, undefined, "sign-in itself carries no token");
});

test("payment methods: list, and remove answers 204 with nothing", async () => {
  const api = fakeApi();
  api.on("GET", /^\/v1\/me\/payment-methods$/, () => ({ status: 200, body: { data: [{ id: "pm_1", last4: "4242" }] } }));
  api.on("DELETE", /^\/v1\/me\/payment-methods\/pm_1$/, () => ({ status: 204 }));
  const client = createClient({ baseUrl: "http://api.test", fetch: api.fetch });
  assert.equal((await client.paymentMethods.list()).data[0].id, "pm_1");
  assert.equal(await client.paymentMethods.remove("pm_1"), null);
});

test("paypal.createOrder posts to the checkout's paypal-orders", async () => {
  const api = fakeApi();
  api.on("POST", /^\/v1\/checkouts\/chk_abc\/paypal-orders$/, () => ({
    status: 201,
    body: { paypal_order_id: "PP1", approve_url: "http://paypal.test/approve" },
  }));
  const client = createClient({ baseUrl: "http://api.test", fetch: api.fetch });
  const order = await client.paypal.createOrder("chk_abc", { returnUrl: "http://shop.test/done" });
  assert.equal(order.paypal_order_id, "PP1");
  assert.deepEqual(JSON.parse(api.requests[0].body), { return_url: "http://shop.test/done" });
});
