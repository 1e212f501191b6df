// The SDK's own card-data guard: a request body that carries a card number or a card
// field is refused here, before it is sent, with the same rules as the server's guard
// (checkout/cardguard/detect.py). Card numbers belong in the provider's frame only.

// (prefix length, lowest, highest): card networks' IIN ranges, as the server has them.
const IIN_RANGES = [
  [1, 4, 4], [2, 51, 55], [4, 2221, 2720], [2, 34, 34], [2, 37, 37], [4, 6011, 6011],
  [3, 644, 649], [2, 65, 65], [6, 622126, 622925], [3, 300, 305], [2, 36, 36], [2, 38, 39],
  [4, 3528, 3589], [2, 62, 62], [2, 81, 81], [2, 60, 60], [2, 50, 50], [2, 56, 69],
  [4, 2200, 2204], [3, 508, 508], [3, 652, 653],
];
const CARD_FIELD_NAMES = new Set([
  "cardnumber", "cardnum", "ccnumber", "creditcardnumber", "pan", "cvv", "cvc", "cvv2",
  "cvc2", "cardcvv", "cardcvc", "track1", "track2", "trackdata",
]);
const CANDIDATE = /\d(?:[ -]?\d){12}/;
const UUID = /(?<![0-9A-Za-z_])[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}(?![0-9A-Za-z_])/g;
const MAX_PHONE_DIGITS = 15;

export function luhnValid(digits) {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return digits.length > 0 && sum % 10 === 0;
}

function inIinRange(digits) {
  return IIN_RANGES.some(([length, low, high]) => {
    const prefix = Number(digits.slice(0, length));
    return digits.length >= length && prefix >= low && prefix <= high;
  });
}

function isWordChar(ch) {
  return ch !== undefined && /[0-9A-Za-z_]/.test(ch);
}

function standsAlone(text, start, end) {
  const before = text[start - 1];
  const after = text[end];
  if (isWordChar(before) || isWordChar(after)) return false;
  if (before === "." && /\d/.test(text[start - 2] ?? "")) return false;
  if (after === "." && /\d/.test(text[end + 1] ?? "")) return false;
  return true;
}

/** Whether `text` holds a stand-alone, Luhn-valid number in a card network's IIN range. */
export function containsCardNumber(text) {
  if (typeof text !== "string" || !CANDIDATE.test(text)) return false;
  const masked = text.replace(UUID, (uuid) => "x".repeat(uuid.length));
  const groups = [...masked.matchAll(/\d+/g)].map((m) => ({
    start: m.index,
    end: m.index + m[0].length,
    digits: m[0],
  }));
  // Runs: stand-alone groups joined by exactly one space or dash.
  const runs = [];
  let run = [];
  for (const group of groups) {
    if (!standsAlone(masked, group.start, group.end)) {
      if (run.length) runs.push(run);
      run = [];
      continue;
    }
    const previous = run[run.length - 1];
    const joined =
      previous !== undefined && group.start - previous.end === 1 && " -".includes(masked[previous.end]);
    if (!joined && run.length) {
      runs.push(run);
      run = [];
    }
    run.push(group);
  }
  if (run.length) runs.push(run);
  return runs.some((groupsOfRun) => {
    const total = groupsOfRun.reduce((n, g) => n + g.digits.length, 0);
    if (masked[groupsOfRun[0].start - 1] === "+" && total <= MAX_PHONE_DIGITS) return false;
    for (let i = 0; i < groupsOfRun.length; i++) {
      let digits = "";
      for (let j = i; j < groupsOfRun.length; j++) {
        digits += groupsOfRun[j].digits;
        if (digits.length > 19) break;
        if (digits.length >= 13 && inIinRange(digits) && luhnValid(digits)) return true;
      }
    }
    return false;
  });
}

export function isCardFieldName(name) {
  const normalise = (part) => part.replace(/[_\-\s.]/g, "").toLowerCase();
  const parts = String(name).split(/[[\]]+/).filter(Boolean).map(normalise);
  if (parts.some((part) => CARD_FIELD_NAMES.has(part))) return true;
  return parts.some((part, i) => i > 0 && CARD_FIELD_NAMES.has(parts[i - 1] + part));
}

/** The first reason `value` must not be sent to our API, or null. */
export function findCardData(value, path = "") {
  if (typeof value === "string") return containsCardNumber(value) ? path || "(value)" : null;
  if (typeof value === "number") return containsCardNumber(String(value)) ? path || "(value)" : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findCardData(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return null;
  }
  if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      const here = path ? `${path}.${key}` : key;
      if (isCardFieldName(key) || containsCardNumber(key)) return here;
      const found = findCardData(item, here);
      if (found) return found;
    }
  }
  return null;
}
