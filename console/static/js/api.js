// The console's only data path: POST /graphql with the session's bearer token and a declared purpose.
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
  const bearer = token ?? session.get()?.token;
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
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
  if (body.errors && body.errors.length) {
    const first = body.errors[0];
    const code = (first.extensions && first.extensions.code) || "ERROR";
    if (code === "UNAUTHENTICATED" && token === undefined) window.dispatchEvent(new CustomEvent("veil:unauthenticated", { detail: first }));
    throw new ApiError(code, first.message, first.extensions || {});
  }
  return body.data;
}
