// A hand-written fake of the public API for the SDK's tests: it records every request,
// replays by Idempotency-Key as the server does, and can be told to fail on cue.
export function fakeApi() {
  const api = {
    requests: [],
    charges: 0,
    replies: new Map(),
    failNext: [], // "network" (request lost before arriving) or "cut" (arrives, answer lost)
    handlers: [],
    on(method, pattern, handler) {
      api.handlers.push({ method, pattern, handler });
    },
    async fetch(url, init = {}) {
      const { pathname, search } = new URL(url);
      const headers = { ...(init.headers ?? {}) };
      const entry = { method: init.method ?? "GET", path: pathname, search, headers, body: init.body ?? null };
      const fault = api.failNext.shift();
      if (fault === "network") throw new TypeError("fetch failed");
      api.requests.push(entry);
      const key = headers["Idempotency-Key"];
      let reply = key ? api.replies.get(key) : undefined;
      if (!reply) {
        const route = api.handlers.find((h) => h.method === entry.method && h.pattern.test(pathname));
        reply = route ? route.handler(entry, api) : { status: 404, body: { error: { code: "not_found", message: "Not found", request_id: "req_1" } } };
        if (key && reply.status < 500) api.replies.set(key, reply);
      }
      if (fault === "cut") throw new TypeError("network connection was lost");
      const body = reply.body === undefined ? null : JSON.stringify(reply.body);
      return new Response(body, {
        status: reply.status,
        headers: { "Content-Type": "application/json", "X-Request-Id": "req_test", ...(reply.headers ?? {}) },
      });
    },
  };
  return api;
}

export const noSleep = async () => {};
