// The emulator's hosted card fields. The card number, expiry and CVC exist only in this
// frame (the provider's origin): they go from here to POST /v1/payment_methods, and the
// embedding shop receives the pm_… id, brand and last four digits, never the number.
const parentOrigin = document.body.dataset.parentOrigin;
const publishableKey = document.body.dataset.key;
const number = document.getElementById("number");
const exp = document.getElementById("exp");
const cvc = document.getElementById("cvc");
const errorLine = document.getElementById("error");

function tell(message) {
  // Always addressed to the one origin named in our URL, never to any origin.
  window.parent.postMessage(message, parentOrigin);
}

function digits(value) {
  return value.replace(/\D/g, "");
}

function luhn(value) {
  let sum = 0;
  for (let i = 0; i < value.length; i++) {
    let d = Number(value[value.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function parseExpiry(value) {
  const d = digits(value);
  if (d.length !== 4 && d.length !== 6) return null;
  const month = Number(d.slice(0, 2));
  const year = d.length === 4 ? 2000 + Number(d.slice(2)) : Number(d.slice(2));
  return { month, year };
}

function problem() {
  const n = digits(number.value);
  if (n.length === 0 || n.length < 13) return { code: "incomplete_number", message: "Your card number is incomplete." };
  if (n.length > 19 || !luhn(n)) return { code: "invalid_number", message: "Your card number is invalid." };
  const e = parseExpiry(exp.value);
  if (e === null) return { code: "incomplete_expiry", message: "Your card's expiration date is incomplete." };
  if (e.month < 1 || e.month > 12) return { code: "invalid_expiry_month", message: "Your card's expiration month is invalid." };
  const c = digits(cvc.value);
  if (c.length < 3) return { code: "incomplete_cvc", message: "Your card's security code is incomplete." };
  return null;
}

function formatNumber() {
  const groups = digits(number.value).slice(0, 19).match(/.{1,4}/g) || [];
  number.value = groups.join(" ");
}

function formatExpiry() {
  const d = digits(exp.value).slice(0, 4);
  exp.value = d.length > 2 ? `${d.slice(0, 2)} / ${d.slice(2)}` : d;
}

function changed() {
  const p = problem();
  errorLine.textContent = "";
  tell({ type: "hc:change", complete: p === null, error: null });
}

async function tokenize(requestId) {
  const p = problem();
  if (p !== null) {
    errorLine.textContent = p.message;
    tell({ type: "hc:error", requestId, error: p });
    return;
  }
  const e = parseExpiry(exp.value);
  const form = new URLSearchParams({
    type: "card",
    "card[number]": digits(number.value),
    "card[exp_month]": String(e.month),
    "card[exp_year]": String(e.year),
    "card[cvc]": digits(cvc.value),
  });
  let answer;
  try {
    const response = await fetch("/v1/payment_methods", {
      method: "POST",
      headers: {
        Authorization: `Bearer ${publishableKey}`,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: form,
    });
    answer = { ok: response.ok, body: await response.json() };
  } catch {
    const error = { code: "network_error", message: "Could not reach the card processor. Try again." };
    errorLine.textContent = error.message;
    tell({ type: "hc:error", requestId, error });
    return;
  }
  if (!answer.ok) {
    const err = answer.body && answer.body.error ? answer.body.error : {};
    const error = { code: err.code || "card_error", message: err.message || "The card was not accepted." };
    errorLine.textContent = error.message;
    tell({ type: "hc:error", requestId, error });
    return;
  }
  const card = answer.body.card || {};
  tell({
    type: "hc:token",
    requestId,
    token: answer.body.id,
    card: { brand: card.brand, last4: card.last4, exp_month: card.exp_month, exp_year: card.exp_year },
  });
}

window.addEventListener("message", (event) => {
  // Only the page that framed us, from the origin it was framed for.
  if (event.origin !== parentOrigin || event.source !== window.parent) return;
  const message = event.data;
  if (message === null || typeof message !== "object") return;
  if (message.type === "hc:tokenize" && typeof message.requestId === "string") {
    tokenize(message.requestId);
  } else if (message.type === "hc:clear") {
    number.value = exp.value = cvc.value = "";
    errorLine.textContent = "";
    changed();
  }
});

number.addEventListener("input", () => { formatNumber(); changed(); });
exp.addEventListener("input", () => { formatExpiry(); changed(); });
cvc.addEventListener("input", () => { cvc.value = digits(cvc.value).slice(0, 4); changed(); });
document.getElementById("card").addEventListener("submit", (event) => {
  event.preventDefault();
  tell({ type: "hc:submit" });
});
tell({ type: "hc:ready" });
