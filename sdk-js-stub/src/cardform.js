// mountCardForm: the provider's hosted card fields inside the shop's page.
//
// The card number is typed into the provider's own frame (another origin) and turned into
// a token there. This module only creates the frame, asks it to tokenize, and receives a
// token with the brand and last four digits. It never reads, holds or forwards a card
// number, and it talks to the frame by postMessage checked on both ends by origin.

import { CardFormError, CheckoutError } from "./errors.js";

const DEFAULT_STRIPE_JS = "https://js.stripe.com/v3/";
const TOKENIZE_TIMEOUT_MS = 30_000;

/**
 * Mount the card fields into `element` (an element or a CSS selector).
 * options: { provider: "stripe", publishableKey, hostedFieldsUrl?, stripeJsUrl?, window? }
 * With `hostedFieldsUrl` (the emulator's base URL) the emulator's frame is used; without
 * it, Stripe.js Elements with the real publishable key.
 */
export function mountCardForm(element, options = {}) {
  const { provider = "stripe", publishableKey, hostedFieldsUrl } = options;
  const win = options.window ?? globalThis.window;
  if (!win || !win.document) {
    throw new CheckoutError("mountCardForm needs a browser page (a DOM)", { code: "no_dom" });
  }
  if (provider !== "stripe") {
    throw new CheckoutError(
      `No hosted card fields for provider "${provider}"; PayPal pays through paypal.createOrder()`,
      { code: "unsupported_provider" },
    );
  }
  if (typeof publishableKey !== "string" || !publishableKey.startsWith("pk_")) {
    throw new CheckoutError("A publishable key (pk_…) is required", { code: "invalid_publishable_key" });
  }
  const host = typeof element === "string" ? win.document.querySelector(element) : element;
  if (!host) throw new CheckoutError("The element to mount into was not found", { code: "no_element" });
  if (hostedFieldsUrl) return new HostedFrameCardForm(win, host, publishableKey, hostedFieldsUrl);
  return new StripeElementsCardForm(win, host, publishableKey, options.stripeJsUrl ?? DEFAULT_STRIPE_JS);
}

class Listeners {
  constructor() {
    this.byType = new Map();
  }
  on(type, callback) {
    if (!this.byType.has(type)) this.byType.set(type, new Set());
    this.byType.get(type).add(callback);
    return () => this.byType.get(type).delete(callback);
  }
  emit(type, detail) {
    for (const callback of this.byType.get(type) ?? []) callback(detail);
  }
}

/** The emulator's frame (what Stripe.js's own iframe is for a real account). */
class HostedFrameCardForm {
  constructor(win, host, publishableKey, hostedFieldsUrl) {
    this.win = win;
    this.provider = "stripe";
    this.listeners = new Listeners();
    this.frameOrigin = new URL(hostedFieldsUrl).origin;
    this.pending = new Map();
    this.nextId = 1;
    const src = new URL("/elements/card", hostedFieldsUrl);
    src.searchParams.set("key", publishableKey);
    src.searchParams.set("origin", win.location.origin);
    const frame = win.document.createElement("iframe");
    frame.src = src.href;
    frame.title = "Secure card payment input";
    frame.className = "hc-card-frame";
    frame.setAttribute("sandbox", "allow-scripts allow-same-origin");
    frame.setAttribute("referrerpolicy", "no-referrer");
    frame.style.border = "0";
    frame.style.width = "100%";
    frame.style.height = "9.5rem";
    this.frame = frame;
    let markReady;
    this.ready = new Promise((resolve) => (markReady = resolve));
    this.onMessage = (event) => {
      // Only the frame we made, from the provider's origin.
      if (event.origin !== this.frameOrigin || event.source !== frame.contentWindow) return;
      const message = event.data;
      if (message === null || typeof message !== "object") return;
      if (message.type === "hc:ready") {
        markReady();
        this.listeners.emit("ready", {});
      } else if (message.type === "hc:change") {
        this.listeners.emit("change", { complete: Boolean(message.complete) });
      } else if (message.type === "hc:submit") {
        this.listeners.emit("submit", {});
      } else if (message.type === "hc:token" || message.type === "hc:error") {
        const waiter = this.pending.get(message.requestId);
        if (!waiter) return;
        this.pending.delete(message.requestId);
        if (message.type === "hc:token" && typeof message.token === "string") {
          waiter.resolve({ token: message.token, card: message.card ?? {} });
        } else {
          const error = message.error ?? {};
          waiter.reject(new CardFormError(error.message ?? "The card was not accepted", { code: error.code ?? "card_error" }));
        }
      }
    };
    win.addEventListener("message", this.onMessage);
    host.appendChild(frame);
  }

  on(type, callback) {
    return this.listeners.on(type, callback);
  }

  /** Ask the frame for a token: resolves to `{ token: "pm_…", card: { brand, last4, … } }`. */
  async tokenize() {
    await this.ready;
    const requestId = `t${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = this.win.setTimeout(() => {
        this.pending.delete(requestId);
        reject(new CardFormError("The card form did not answer", { code: "card_form_timeout" }));
      }, TOKENIZE_TIMEOUT_MS);
      this.pending.set(requestId, {
        resolve: (value) => { this.win.clearTimeout(timer); resolve(value); },
        reject: (error) => { this.win.clearTimeout(timer); reject(error); },
      });
      this.frame.contentWindow.postMessage({ type: "hc:tokenize", requestId }, this.frameOrigin);
    });
  }

  clear() {
    this.frame.contentWindow?.postMessage({ type: "hc:clear" }, this.frameOrigin);
  }

  destroy() {
    this.win.removeEventListener("message", this.onMessage);
    this.frame.remove();
  }
}

/** Stripe.js Elements, for a real Stripe account. */
class StripeElementsCardForm {
  constructor(win, host, publishableKey, stripeJsUrl) {
    this.provider = "stripe";
    this.listeners = new Listeners();
    this.ready = loadScript(win, stripeJsUrl, "Stripe").then((Stripe) => {
      this.stripe = Stripe(publishableKey);
      this.card = this.stripe.elements().create("card");
      this.card.on("change", (event) => this.listeners.emit("change", { complete: event.complete }));
      this.card.on("ready", () => this.listeners.emit("ready", {}));
      this.card.mount(host);
    });
  }

  on(type, callback) {
    return this.listeners.on(type, callback);
  }

  async tokenize() {
    await this.ready;
    const result = await this.stripe.createPaymentMethod({ type: "card", card: this.card });
    if (result.error) {
      throw new CardFormError(result.error.message, { code: result.error.code ?? "card_error" });
    }
    const card = result.paymentMethod.card ?? {};
    return {
      token: result.paymentMethod.id,
      card: { brand: card.brand, last4: card.last4, exp_month: card.exp_month, exp_year: card.exp_year },
    };
  }

  /** For next_action {type: "provider_sdk"}: Stripe.js runs the 3-D Secure challenge. */
  async handleNextAction(clientSecret) {
    await this.ready;
    const result = await this.stripe.handleNextAction({ clientSecret });
    if (result.error) {
      throw new CardFormError(result.error.message, { code: result.error.code ?? "authentication_failed" });
    }
  }

  clear() {
    this.card?.clear();
  }

  destroy() {
    this.card?.destroy();
  }
}

function loadScript(win, src, globalName) {
  if (win[globalName]) return Promise.resolve(win[globalName]);
  return new Promise((resolve, reject) => {
    const script = win.document.createElement("script");
    script.src = src;
    script.onload = () => resolve(win[globalName]);
    script.onerror = () => reject(new CheckoutError(`Could not load ${src}`, { code: "provider_sdk_unavailable" }));
    win.document.head.appendChild(script);
  });
}
