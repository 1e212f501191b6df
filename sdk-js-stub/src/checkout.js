// headless-checkout storefront SDK: an ES module for browsers and Node >= 18, no build step.
//
//   const client = createClient({ baseUrl: "https://api.shop.example" });
//   const card = mountCardForm("#card", { provider: "stripe", publishableKey });
//   const checkout = await client.checkouts.create({ currency: "USD", lines, email });
//   const payment = await client.checkouts.pay(checkout.id, { cardForm: card, returnUrl });
//
// Card numbers never pass through this module: the card form is the provider's frame,
// and every request body is checked for card data before it leaves (see carddata.js).

import { findCardData } from "./carddata.js";
import {
  CardDataForbiddenError,
  CheckoutError,
  NetworkError,
  errorFromResponse,
} from "./errors.js";

export * from "./errors.js";
export { mountCardForm } from "./cardform.js";
export { containsCardNumber } from "./carddata.js";

const PENDING_KEY = "hc:pending-payment";
const TOKEN_KEY = "hc:customer-token";
const SECRET_PREFIX = "hc:checkout-secret:";
const DEFAULT_RETRY = { attempts: 4, baseDelayMs: 250, maxDelayMs: 4000 };

/** A new Idempotency-Key: 128 random bits as a UUID. */
export async function newIdempotencyKey() {
  const webCrypto = globalThis.crypto ?? (await import("node:crypto")).webcrypto;
  if (typeof webCrypto.randomUUID === "function") return webCrypto.randomUUID();
  const bytes = webCrypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function memoryStorage() {
  const values = new Map();
  return {
    getItem: (key) => (values.has(key) ? values.get(key) : null),
    setItem: (key, value) => values.set(key, String(value)),
    removeItem: (key) => values.delete(key),
  };
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

function isRetryable(error) {
  if (error instanceof NetworkError) return true;
  if (error.status === 502 || error.status === 503) return true;
  // Our own earlier attempt is still running at the server (it arrived, its answer did not).
  return error.code === "idempotency_conflict" && error.retryAfter !== null;
}

/**
 * createClient({ baseUrl, fetch?, storage?, retry?, sleep? })
 * - fetch: a fetch implementation (default: the global one).
 * - storage: a Storage-like object (e.g. window.sessionStorage) to keep the customer token,
 *   checkout secrets and a payment waiting for 3-D Secure across page loads; default memory.
 * - retry: { attempts, baseDelayMs, maxDelayMs } for POSTs that did not get an answer.
 */
export function createClient(options = {}) {
  if (typeof options.baseUrl !== "string" || options.baseUrl === "") {
    throw new CheckoutError("createClient needs a baseUrl", { code: "invalid_options" });
  }
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const fetchImpl = options.fetch ?? ((...args) => globalThis.fetch(...args));
  const storage = options.storage ?? memoryStorage();
  const retry = { ...DEFAULT_RETRY, ...(options.retry ?? {}) };
  const sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));

  const secretOf = (checkoutId) => storage.getItem(SECRET_PREFIX + checkoutId);

  async function once(method, path, { body, headers }) {
    let response;
    try {
      response = await fetchImpl(baseUrl + path, {
        method,
        headers,
        body,
        credentials: "omit",
        cache: "no-store",
      });
    } catch (cause) {
      throw new NetworkError("The API could not be reached", {
        code: "network_error",
        cause,
        idempotencyKey: headers["Idempotency-Key"] ?? null,
      });
    }
    const text = response.status === 204 ? "" : await response.text();
    let parsed = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
    }
    if (!response.ok) {
      throw errorFromResponse(response.status, parsed, response.headers, headers["Idempotency-Key"] ?? null);
    }
    return parsed;
  }

  /**
   * One API call. A POST carries an Idempotency-Key (given, or made here) and, when no
   * answer came back, is sent again with that same key, so the server replays the first
   * outcome instead of doing it twice.
   */
  async function request(method, path, { json, checkoutId, idempotencyKey, auth = true } = {}) {
    const headers = { Accept: "application/json" };
    let body;
    if (json !== undefined) {
      const where = findCardData(json);
      if (where !== null) {
        // Never sent: card data goes to the provider's frame, not to us.
        throw new CardDataForbiddenError(`Card data must not be sent to the API (${where})`, {
          code: "card_data_forbidden",
          fields: { [where]: "card data" },
        });
      }
      body = JSON.stringify(json);
      headers["Content-Type"] = "application/json";
    }
    const token = storage.getItem(TOKEN_KEY);
    if (auth && token) headers.Authorization = `Bearer ${token}`;
    const secret = checkoutId ? secretOf(checkoutId) : null;
    if (secret) headers["X-Checkout-Secret"] = secret;
    if (method !== "POST") return once(method, path, { body, headers });

    headers["Idempotency-Key"] = idempotencyKey ?? (await newIdempotencyKey());
    for (let attempt = 1; ; attempt++) {
      try {
        return await once(method, path, { body, headers });
      } catch (error) {
        if (!isRetryable(error) || attempt >= retry.attempts) throw error;
        const backoff = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
        await sleep(error.retryAfter ? Math.max(backoff, error.retryAfter * 1000) : backoff);
      }
    }
  }

  const rememberCheckout = (checkout) => {
    if (checkout && checkout.id && checkout.client_secret) {
      storage.setItem(SECRET_PREFIX + checkout.id, checkout.client_secret);
    }
    return checkout;
  };

  const checkouts = {
    async create(params, { idempotencyKey } = {}) {
      return rememberCheckout(await request("POST", "/v1/checkouts", { json: params, idempotencyKey }));
    },
    /** Use a checkout made elsewhere (say, on another page) with its client secret. */
    remember(checkoutId, clientSecret) {
      storage.setItem(SECRET_PREFIX + checkoutId, clientSecret);
    },
    get(checkoutId) {
      return request("GET", `/v1/checkouts/${encodeURIComponent(checkoutId)}`, { checkoutId });
    },
    update(checkoutId, changes) {
      return request("PATCH", `/v1/checkouts/${encodeURIComponent(checkoutId)}`, { json: changes, checkoutId });
    },
    /**
     * Pay a checkout. One call is one payment attempt with one Idempotency-Key, reused for
     * every retry of the attempt (also given back on a NetworkError as `idempotencyKey`,
     * to try the same attempt again later).
     * options: { provider = "stripe", paymentToken?, cardForm?, savePaymentMethod?,
     *            savedPaymentMethod?, returnUrl?, idempotencyKey? }
     */
    async pay(checkoutId, options = {}) {
      const provider = options.provider ?? "stripe";
      let json;
      if (options.savedPaymentMethod) {
        json = { saved_payment_method: options.savedPaymentMethod };
      } else {
        let token = options.paymentToken;
        if (!token && options.cardForm) token = (await options.cardForm.tokenize()).token;
        if (!token) {
          throw new CheckoutError("pay() needs a paymentToken, a cardForm or a savedPaymentMethod", {
            code: "invalid_options",
          });
        }
        json = { provider, payment_token: token };
        if (options.savePaymentMethod) json.save_payment_method = true;
      }
      if (options.returnUrl) json.return_url = options.returnUrl;
      const idempotencyKey = options.idempotencyKey ?? (await newIdempotencyKey());
      return request("POST", `/v1/checkouts/${encodeURIComponent(checkoutId)}/payments`, {
        json,
        checkoutId,
        idempotencyKey,
      });
    },
    refreshPayment(checkoutId, paymentId) {
      return request(
        "POST",
        `/v1/checkouts/${encodeURIComponent(checkoutId)}/payments/${encodeURIComponent(paymentId)}/refresh`,
        { checkoutId },
      );
    },
    /**
     * Act on a payment's next_action. A redirect (3-D Secure page) remembers the payment in
     * storage, navigates away and resolves to null; call resumeAfterRedirect() on the
     * return_url page. provider_sdk needs `cardForm` (Stripe.js runs the challenge), then
     * resolves to the refreshed payment. Without a next_action: the payment itself.
     * options: { navigate?(url), cardForm? }
     */
    async handleNextAction(checkoutId, payment, options = {}) {
      const action = payment && payment.next_action;
      if (!action) return payment;
      if (action.type === "redirect") {
        storage.setItem(PENDING_KEY, JSON.stringify({ checkoutId, paymentId: payment.id }));
        const navigate = options.navigate ?? ((url) => globalThis.location.assign(url));
        navigate(action.url);
        return null;
      }
      if (action.type === "provider_sdk") {
        if (!options.cardForm || typeof options.cardForm.handleNextAction !== "function") {
          throw new CheckoutError("This next_action needs the provider's SDK (a Stripe.js card form)", {
            code: "next_action_unsupported",
          });
        }
        await options.cardForm.handleNextAction(action.client_secret);
        return checkouts.refreshPayment(checkoutId, payment.id);
      }
      throw new CheckoutError(`Unknown next_action type: ${action.type}`, { code: "next_action_unsupported" });
    },
    /** The payment left for 3-D Secure, refreshed now that the buyer is back; or null. */
    async resumeAfterRedirect() {
      const raw = storage.getItem(PENDING_KEY);
      if (!raw) return null;
      const { checkoutId, paymentId } = JSON.parse(raw);
      const payment = await checkouts.refreshPayment(checkoutId, paymentId);
      if (payment.status !== "requires_action") storage.removeItem(PENDING_KEY);
      return { checkoutId, payment };
    },
  };

  return {
    baseUrl,
    request,
    products: {
      list({ limit, startingAfter, currency } = {}) {
        return request("GET", `/v1/products${query({ limit, starting_after: startingAfter, currency })}`, {
          auth: false,
        });
      },
    },
    checkouts,
    paypal: {
      /** → { paypal_order_id, approve_url }: send the buyer to approve_url, then pay with
       *  { provider: "paypal", paymentToken: paypal_order_id }. */
      createOrder(checkoutId, { returnUrl, cancelUrl, idempotencyKey } = {}) {
        const json = {};
        if (returnUrl) json.return_url = returnUrl;
        if (cancelUrl) json.cancel_url = cancelUrl;
        return request("POST", `/v1/checkouts/${encodeURIComponent(checkoutId)}/paypal-orders`, {
          json,
          checkoutId,
          idempotencyKey,
        });
      },
    },
    customers: {
      register({ email, password, name, phone }) {
        return request("POST", "/v1/customers", { json: { email, password, name, phone }, auth: false });
      },
      async signIn({ email, password }) {
        const session = await request("POST", "/v1/sessions", { json: { email, password }, auth: false });
        storage.setItem(TOKEN_KEY, session.token);
        return session;
      },
      async signOut() {
        try {
          if (storage.getItem(TOKEN_KEY)) await request("DELETE", "/v1/sessions/current");
        } finally {
          storage.removeItem(TOKEN_KEY);
        }
      },
      isSignedIn() {
        return Boolean(storage.getItem(TOKEN_KEY));
      },
      me() {
        return request("GET", "/v1/me");
      },
      orders({ limit, startingAfter } = {}) {
        return request("GET", `/v1/me/orders${query({ limit, starting_after: startingAfter })}`);
      },
      order(orderId) {
        return request("GET", `/v1/me/orders/${encodeURIComponent(orderId)}`);
      },
    },
    paymentMethods: {
      list() {
        return request("GET", "/v1/me/payment-methods");
      },
      remove(paymentMethodId) {
        return request("DELETE", `/v1/me/payment-methods/${encodeURIComponent(paymentMethodId)}`);
      },
    },
  };
}
