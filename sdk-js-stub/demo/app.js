// The demo storefront: everything through the SDK, the card only inside the provider's frame.
import {
  CardFormError,
  NetworkError,
  NotFoundError,
  ConflictError,
  PaymentFailedError,
  createClient,
  mountCardForm,
} from "/sdk/checkout.js";

const $ = (id) => document.getElementById(id);
const config = await (await fetch("/config.json")).json();
const client = createClient({ baseUrl: config.apiBase, storage: window.sessionStorage });
const CART_KEY = "demo:cart";
const CHECKOUT_KEY = "demo:checkout";
const OK_STATUSES = new Set(["authorized", "captured", "processing"]);

const cart = new Map(JSON.parse(sessionStorage.getItem(CART_KEY) || "[]"));
const products = new Map();

function money({ amount, currency }) {
  const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  return new Intl.NumberFormat("en", { style: "currency", currency }).format(amount / 10 ** digits);
}

function item(text, attributes = {}) {
  const li = document.createElement("li");
  li.textContent = text;
  Object.assign(li.dataset, attributes);
  return li;
}

function say(text, ok = false) {
  $("message").textContent = text;
  $("message").className = ok ? "ok" : "";
}

// --- catalog and cart ---------------------------------------------------------------

async function showProducts() {
  const page = await client.products.list({ currency: config.currency, limit: 20 });
  const list = $("product-list");
  list.replaceChildren();
  for (const product of page.data.filter((p) => p.active)) {
    products.set(product.sku, product);
    const li = item("", { sku: product.sku });
    const name = document.createElement("strong");
    name.textContent = product.name;
    const price = document.createElement("span");
    price.className = "price";
    price.textContent = money(product.price);
    const add = document.createElement("button");
    add.type = "button";
    add.textContent = "Add to cart";
    add.setAttribute("aria-label", `Add ${product.name} to cart`);
    add.addEventListener("click", () => {
      cart.set(product.sku, (cart.get(product.sku) || 0) + 1);
      showCart();
    });
    li.append(name, price, add);
    list.append(li);
  }
  showCart();
}

function showCart() {
  sessionStorage.setItem(CART_KEY, JSON.stringify([...cart]));
  const lines = $("cart-lines");
  lines.replaceChildren();
  let total = 0;
  for (const [sku, quantity] of cart) {
    const product = products.get(sku);
    if (!product) continue;
    total += product.price.amount * quantity;
    lines.append(item(`${quantity} × ${product.name}`, { sku }));
  }
  $("cart-total").textContent = cart.size ? `Total ${money({ amount: total, currency: config.currency })} (prices confirmed at checkout)` : "Your cart is empty.";
  $("pay").disabled = cart.size === 0;
}

// --- paying ---------------------------------------------------------------------------

const cardForm = mountCardForm("#card-element", {
  provider: "stripe",
  publishableKey: config.stripe.publishableKey,
  hostedFieldsUrl: config.stripe.hostedFieldsUrl,
});
cardForm.on("submit", () => $("checkout-form").requestSubmit());

function contact() {
  return {
    email: $("email").value.trim(),
    shipping_address: {
      name: $("ship-name").value.trim(),
      line1: $("ship-line1").value.trim(),
      city: $("ship-city").value.trim(),
      postal_code: $("ship-postal").value.trim(),
      country: $("ship-country").value.trim().toUpperCase(),
    },
  };
}

async function currentCheckout() {
  const lines = [...cart].map(([sku, quantity]) => ({ sku, quantity }));
  const existing = sessionStorage.getItem(CHECKOUT_KEY);
  if (existing) {
    try {
      return await client.checkouts.update(existing, { lines, ...contact() });
    } catch (error) {
      if (!(error instanceof NotFoundError || error instanceof ConflictError)) throw error;
    }
  }
  const checkout = await client.checkouts.create({ currency: config.currency, lines, ...contact() });
  sessionStorage.setItem(CHECKOUT_KEY, checkout.id);
  return checkout;
}

async function settle(checkoutId, payment) {
  if (payment.status === "requires_action") {
    say("Your bank wants to confirm this payment…", true);
    await client.checkouts.handleNextAction(checkoutId, payment, { cardForm });
    return; // on its way to the challenge page; we come back at ?from=3ds
  }
  if (OK_STATUSES.has(payment.status)) {
    await showConfirmation(checkoutId, payment);
    return;
  }
  say("The payment did not go through. Please try again or use another card.");
}

$("checkout-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!$("checkout-form").reportValidity()) return;
  $("pay").disabled = true;
  say("Paying…", true);
  try {
    const checkout = await currentCheckout();
    const payment = await client.checkouts.pay(checkout.id, {
      cardForm,
      returnUrl: `${location.origin}/?from=3ds`,
    });
    await settle(checkout.id, payment);
  } catch (error) {
    if (error instanceof PaymentFailedError) {
      say(`${error.message} Please try again or use another card.`);
    } else if (error instanceof CardFormError) {
      say(error.message);
    } else if (error instanceof NetworkError) {
      say("We could not reach the shop. Nothing was charged twice; please try again.");
    } else {
      say(error.message || "Something went wrong.");
    }
  } finally {
    $("pay").disabled = cart.size === 0;
  }
});

async function showConfirmation(checkoutId, payment) {
  const checkout = await client.checkouts.get(checkoutId);
  cart.clear();
  showCart();
  sessionStorage.removeItem(CHECKOUT_KEY);
  cardForm.clear();
  say("");
  $("order-id").textContent = payment.order_id || "(pending)";
  $("order-status").textContent = payment.status === "processing" ? "being confirmed" : "paid";
  $("confirmation-lines").replaceChildren(
    ...checkout.lines.map((line) => item(`${line.quantity} × ${line.name} — ${money(line.total)}`)),
  );
  $("confirmation-total").textContent = money(checkout.total);
  $("shop").hidden = true;
  $("confirmation").hidden = false;
  if (client.customers.isSignedIn()) await showOrders();
}

$("continue").addEventListener("click", () => {
  $("confirmation").hidden = true;
  $("shop").hidden = false;
});

async function resumeAfterChallenge() {
  const params = new URLSearchParams(location.search);
  if (params.get("from") !== "3ds") return;
  history.replaceState(null, "", "/");
  const resumed = await client.checkouts.resumeAfterRedirect();
  if (resumed === null) return;
  if (OK_STATUSES.has(resumed.payment.status)) {
    await showConfirmation(resumed.checkoutId, resumed.payment);
  } else {
    say("Your bank did not confirm the payment. Please try again or use another card.");
  }
}

// --- account --------------------------------------------------------------------------

async function showAccount() {
  if (!client.customers.isSignedIn()) {
    $("signin-form").hidden = false;
    $("signed-in").hidden = true;
    return;
  }
  try {
    const me = await client.customers.me();
    $("me-email").textContent = me.email;
    if (!$("email").value) $("email").value = me.email;
  } catch {
    await client.customers.signOut().catch(() => {});
    return showAccount();
  }
  $("signin-form").hidden = true;
  $("signed-in").hidden = false;
  await showOrders();
}

async function showOrders() {
  const orders = await client.customers.orders({ limit: 20 });
  const list = $("order-list");
  list.replaceChildren(
    ...orders.data.map((order) => item(`${order.id} · ${order.status} · ${money(order.total)}`, { order: order.id })),
  );
  if (orders.data.length === 0) list.append(item("No orders yet."));
}

function credentials() {
  return { email: $("account-email").value.trim(), password: $("account-password").value };
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("account-message").textContent = "";
  try {
    await client.customers.signIn(credentials());
    $("account-password").value = "";
    await showAccount();
  } catch (error) {
    $("account-message").textContent = error.message;
  }
});

$("register").addEventListener("click", async () => {
  $("account-message").textContent = "";
  try {
    await client.customers.register(credentials());
    await client.customers.signIn(credentials());
    $("account-password").value = "";
    await showAccount();
  } catch (error) {
    const why = error.fields ? Object.values(error.fields).join("; ") : "";
    $("account-message").textContent = why ? `${error.message} (${why})` : error.message;
  }
});

$("signout").addEventListener("click", async () => {
  await client.customers.signOut().catch(() => {});
  await showAccount();
});

await showProducts();
await showAccount();
await resumeAfterChallenge();
document.body.dataset.ready = "true";
