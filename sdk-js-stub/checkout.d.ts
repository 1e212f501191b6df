// Type declarations for @headless-checkout/sdk (src/checkout.js). Field names follow the
// HTTP contract (API.md) as the API sends them: snake_case.

export interface Money {
  amount: number;
  currency: string;
}

export interface Address {
  name: string;
  line1: string;
  line2?: string;
  city: string;
  region?: string;
  postal_code: string;
  country: string;
}

export interface Product {
  id: string;
  sku: string;
  name: string;
  price: Money;
  prices?: Money[];
  active: boolean;
}

export interface Page<T> {
  data: T[];
  has_more: boolean;
}

export interface CheckoutLine {
  sku: string;
  name: string;
  quantity: number;
  unit_price: Money;
  total: Money;
}

export interface Checkout {
  id: string;
  client_secret?: string;
  status: "open" | "completed" | string;
  currency: string;
  lines: CheckoutLine[];
  subtotal: Money;
  shipping: Money;
  total: Money;
  email: string | null;
  shipping_address: Address | null;
  billing_address?: Address | null;
}

export interface CheckoutParams {
  currency: string;
  lines: { sku: string; quantity: number }[];
  email?: string;
  shipping_address?: Address;
  billing_address?: Address;
}

export type NextAction =
  | { type: "redirect"; url: string }
  | { type: "provider_sdk"; client_secret: string };

export interface Payment {
  id: string;
  status: "requires_action" | "processing" | "authorized" | "captured" | "failed" | string;
  amount: Money;
  provider?: string;
  checkout_id?: string;
  order_id?: string;
  next_action?: NextAction;
}

export interface Order {
  id: string;
  checkout_id: string;
  status: string;
  currency: string;
  lines: CheckoutLine[];
  subtotal: Money;
  shipping: Money;
  total: Money;
  email: string | null;
  shipping_address: Address | null;
  created: number;
  fulfilled: number | null;
}

export interface Customer {
  id: string;
  email: string;
  email_verified?: boolean;
  name: string | null;
  phone: string | null;
  addresses?: Address[];
}

export interface Session {
  token: string;
  expires_at: string;
}

export interface SavedPaymentMethod {
  id: string;
  provider: string;
  brand: string;
  last4: string;
  exp_month: number;
  exp_year: number;
}

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface ClientOptions {
  baseUrl: string;
  fetch?: typeof fetch;
  /** e.g. window.sessionStorage: keeps the customer token, checkout secrets and a payment
   *  waiting for 3-D Secure across page loads. Default: memory. */
  storage?: StorageLike;
  retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  sleep?: (ms: number) => Promise<void>;
}

export interface PayOptions {
  provider?: "stripe" | "paypal";
  paymentToken?: string;
  cardForm?: CardForm;
  savePaymentMethod?: boolean;
  savedPaymentMethod?: string;
  returnUrl?: string;
  /** Reuse the key of an attempt that got no answer (NetworkError.idempotencyKey). */
  idempotencyKey?: string;
}

export interface Client {
  readonly baseUrl: string;
  products: {
    list(options?: { limit?: number; startingAfter?: string; currency?: string }): Promise<Page<Product>>;
  };
  checkouts: {
    create(params: CheckoutParams, options?: { idempotencyKey?: string }): Promise<Checkout>;
    remember(checkoutId: string, clientSecret: string): void;
    get(checkoutId: string): Promise<Checkout>;
    update(checkoutId: string, changes: Partial<CheckoutParams>): Promise<Checkout>;
    pay(checkoutId: string, options: PayOptions): Promise<Payment>;
    refreshPayment(checkoutId: string, paymentId: string): Promise<Payment>;
    handleNextAction(
      checkoutId: string,
      payment: Payment,
      options?: { navigate?: (url: string) => void; cardForm?: CardForm },
    ): Promise<Payment | null>;
    resumeAfterRedirect(): Promise<{ checkoutId: string; payment: Payment } | null>;
  };
  paypal: {
    createOrder(
      checkoutId: string,
      options?: { returnUrl?: string; cancelUrl?: string; idempotencyKey?: string },
    ): Promise<{ paypal_order_id: string; approve_url: string }>;
  };
  customers: {
    register(params: { email: string; password: string; name?: string; phone?: string }): Promise<Customer>;
    signIn(params: { email: string; password: string }): Promise<Session>;
    signOut(): Promise<void>;
    isSignedIn(): boolean;
    me(): Promise<Customer>;
    orders(options?: { limit?: number; startingAfter?: string }): Promise<Page<Order>>;
    order(orderId: string): Promise<Order>;
  };
  paymentMethods: {
    list(): Promise<{ data: SavedPaymentMethod[] }>;
    remove(paymentMethodId: string): Promise<null>;
  };
}

export function createClient(options: ClientOptions): Client;
export function newIdempotencyKey(): Promise<string>;
export function containsCardNumber(text: string): boolean;

export interface CardDetails {
  brand?: string;
  last4?: string;
  exp_month?: number;
  exp_year?: number;
}

export interface CardForm {
  readonly provider: "stripe";
  readonly ready: Promise<void>;
  /** The provider's token (pm_…) and what may be shown of the card; never its number. */
  tokenize(): Promise<{ token: string; card: CardDetails }>;
  on(type: "ready" | "change" | "submit", callback: (detail: { complete?: boolean }) => void): () => void;
  clear(): void;
  destroy(): void;
  /** Stripe.js forms only: run a provider_sdk next_action. */
  handleNextAction?(clientSecret: string): Promise<void>;
}

export interface CardFormOptions {
  provider?: "stripe";
  publishableKey: string;
  /** The Stripe emulator's base URL; without it, Stripe.js Elements is loaded. */
  hostedFieldsUrl?: string | null;
  stripeJsUrl?: string;
  window?: Window;
}

export function mountCardForm(element: Element | string, options: CardFormOptions): CardForm;

export interface ErrorDetails {
  code?: string;
  status?: number | null;
  requestId?: string | null;
  fields?: Record<string, string> | null;
  declineCode?: string | null;
  retryAfter?: number | null;
  idempotencyKey?: string | null;
  cause?: unknown;
}

export class CheckoutError extends Error {
  constructor(message: string, details?: ErrorDetails);
  /** API.md's error code (validation_error, payment_failed, …), or network_error, or the
   *  card provider's code for a CardFormError. */
  readonly code: string;
  readonly status: number | null;
  readonly requestId: string | null;
  readonly fields: Record<string, string> | null;
  readonly declineCode: string | null;
  readonly retryAfter: number | null;
  readonly idempotencyKey: string | null;
}
export class ValidationError extends CheckoutError {}
export class CardDataForbiddenError extends CheckoutError {}
export class AuthenticationError extends CheckoutError {}
export class PermissionError extends CheckoutError {}
export class NotFoundError extends CheckoutError {}
export class ConflictError extends CheckoutError {}
export class IdempotencyConflictError extends CheckoutError {}
export class RateLimitError extends CheckoutError {}
export class PaymentFailedError extends CheckoutError {}
export class ProviderUnavailableError extends CheckoutError {}
export class NetworkError extends CheckoutError {}
export class CardFormError extends CheckoutError {}
export function errorFromResponse(
  status: number,
  body: unknown,
  headers: { get(name: string): string | null } | null,
  idempotencyKey?: string | null,
): CheckoutError;
