import assert from "node:assert/strict";
import { test } from "node:test";

import { containsCardNumber } from "../src/checkout.js";

test("card numbers are found as the server's guard finds them", () => {
  for (const text of [
    "4242424242424242",
    "4242 4242 4242 4242",
    "4000-0027-6000-3184",
    "card: 5555555555554444.",
    "378282246310005",
    "4242 4242 4242 4242 123",
  ]) {
    assert.equal(containsCardNumber(text), true, text);
  }
});

test("ids, timestamps, phone numbers, uuids and non-Luhn digits are not card numbers", () => {
  for (const text of [
    "chk_4242424242424242",
    "pm_4242424242424242",
    "4242424242424241",
    "1763841393000",
    "+49 1512 3456789",
    "00000000-0000-4000-8000-000000000000",
    "0.4242424242424242",
    "12345",
    "42424242424242424242424",
  ]) {
    assert.equal(containsCardNumber(text), false, text);
  }
});
