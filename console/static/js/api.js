// The console's only data path: POST /graphql with a declared purpose. The session token lives in an
// HttpOnly cookie set by /console/session; the page keeps only the CSRF value it sends back.
const KEY = "veil.console.session";

export const session = {
  get() {
    try { return JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch { return null; }
  },
  set(value) { sessionStorage.setItem(KEY, JSON.stringify(value)); },
  clear() { sessionStorage.removeItem(KEY); },
};

export class ApiError extends Error {
  constructor(code, message, extensions = {}) {
    super(message);
    this.code = code;
    this.extensions = extensions;
  }
}

export async function gql(query, variables = {}, { purpose, token } = {}) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  else if (token === undefined && session.get()?.csrf) headers["X-Veil-CSRF"] = session.get().csrf;
  if (purpose) headers["X-Veil-Purpose"] = purpose;
  let res;
  try {
    res = await fetch("/graphql", { method: "POST", headers, body: JSON.stringify({ query, variables }),
                                    credentials: "same-origin", cache: "no-store" });
  } catch (e) {
    throw new ApiError("NETWORK", e.message || "network error");
  }
  let body;
  try { body = await res.json(); } catch { throw new ApiError(`HTTP_${res.status}`, res.statusText || "bad response"); }
  if (res.status === 403 && body.code === "csrf_failed") {
    window.dispatchEvent(new CustomEvent("veil:unauthenticated", { detail: body }));
    throw new ApiError("UNAUTHENTICATED", body.message);
  }
  if (body.errors && body.errors.length) {
    const first = body.errors[0];
    const code = (first.extensions && first.extensions.code) || "ERROR";
    if (code === "UNAUTHENTICATED" && token === undefined) window.dispatchEvent(new CustomEvent("veil:unauthenticated", { detail: first }));
    throw new ApiError(code, first.message, first.extensions || {});
  }
  return body.data;
}

// Trade a bearer token (staff token or API key) for the HttpOnly session cookie; returns the CSRF value.
export async function openSession(token) {
  const res = await fetch("/console/session", { method: "POST", headers: { Authorization: `Bearer ${token}` },
                                                credentials: "same-origin", cache: "no-store" });
  const body = await res.json().catch(() => ({}));
  if (!res.ok || !body.csrf) throw new ApiError("UNAUTHENTICATED", body.message || "session refused", { reason: body.code });
  return body;
}

export async function closeSession() {
  const csrf = session.get()?.csrf;
  session.clear();
  try {
    await fetch("/console/session", { method: "DELETE", headers: csrf ? { "X-Veil-CSRF": csrf } : {}, credentials: "same-origin" });
  } catch { /* offline: the cookie expires on its own */ }
}
