// Errors: one base class, flat subclasses, each carrying API.md's `code`.
//
//   CheckoutError                 code, status, message, requestId, fields
//   ├── ValidationError           validation_error          422
//   ├── CardDataForbiddenError    card_data_forbidden       422 (also raised locally, unsent)
//   ├── AuthenticationError       unauthenticated           401
//   ├── PermissionError           forbidden                 403
//   ├── NotFoundError             not_found                 404
//   ├── ConflictError             conflict                  409
//   ├── IdempotencyConflictError  idempotency_conflict      409
//   ├── RateLimitError            rate_limited              429  (+ retryAfter)
//   ├── PaymentFailedError        payment_failed            402  (+ declineCode)
//   ├── ProviderUnavailableError  provider_unavailable      502/503
//   ├── NetworkError              network_error             no answer (+ idempotencyKey)
//   └── CardFormError             the provider's code       from the card frame

export class CheckoutError extends Error {
  constructor(message, details = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = details.code ?? "unknown_error";
    this.status = details.status ?? null;
    this.requestId = details.requestId ?? null;
    this.fields = details.fields ?? null;
    this.declineCode = details.declineCode ?? null;
    this.retryAfter = details.retryAfter ?? null;
    this.idempotencyKey = details.idempotencyKey ?? null;
  }
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

const BY_CODE = {
  validation_error: ValidationError,
  card_data_forbidden: CardDataForbiddenError,
  unauthenticated: AuthenticationError,
  forbidden: PermissionError,
  not_found: NotFoundError,
  conflict: ConflictError,
  idempotency_conflict: IdempotencyConflictError,
  rate_limited: RateLimitError,
  payment_failed: PaymentFailedError,
  provider_unavailable: ProviderUnavailableError,
};

const BY_STATUS = {
  401: "unauthenticated",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  422: "validation_error",
  429: "rate_limited",
  402: "payment_failed",
  502: "provider_unavailable",
  503: "provider_unavailable",
};

/** The typed error for an API answer that is not 2xx. */
export function errorFromResponse(status, body, headers, idempotencyKey = null) {
  const error = body && typeof body === "object" && body.error ? body.error : {};
  const code = typeof error.code === "string" ? error.code : BY_STATUS[status] ?? "api_error";
  const Class = BY_CODE[code] ?? CheckoutError;
  const retryAfterRaw = headers && typeof headers.get === "function" ? headers.get("retry-after") : null;
  const requestId =
    error.request_id ?? (headers && typeof headers.get === "function" ? headers.get("x-request-id") : null);
  return new Class(typeof error.message === "string" ? error.message : `HTTP ${status}`, {
    code,
    status,
    requestId,
    fields: error.fields ?? null,
    declineCode: error.decline_code ?? null,
    retryAfter: retryAfterRaw === null || retryAfterRaw === "" ? null : Number(retryAfterRaw),
    idempotencyKey,
  });
}
