// Console shell: session, header, role-filtered navigation and a hash router.
import { closeSession, gql, session } from "./api.js";
import { lang, setLang, t } from "./i18n.js";
import { clear, errorBox, h, loading } from "./ui.js";
import { renderLogin } from "./views/login.js";

const ROUTES = [
  { path: "audit", group: "compliance", ability: "audit:read", load: () => import("./views/audit.js") },
  { path: "who", group: "compliance", ability: "audit:read", load: () => import("./views/who.js") },
  { path: "dsr", group: "compliance", ability: "dsr:read", load: () => import("./views/dsr.js") },
  { path: "consent", group: "compliance", ability: "profile.consents:read", load: () => import("./views/consent.js") },
  { path: "profile", group: "compliance", ability: "profile:read", load: () => import("./views/profile.js") },
  { path: "segments", group: "marketing", ability: "segments:read", load: () => import("./views/segments.js") },
  { path: "dashboards", group: "marketing", ability: "aggregates:read", load: () => import("./views/dashboards.js") },
  { path: "health", group: "operations", ability: "sources:read", load: () => import("./views/health.js") },
  { path: "catalog", group: "operations", ability: "trait_catalog:read", load: () => import("./views/catalog.js") },
];

let viewer = null;
let cleanup = null;

export function currentViewer() { return viewer; }

// Default purpose per role: what this person is most likely doing on a screen.
export function defaultPurpose(screen) {
  const roles = (viewer && viewer.roles) || [];
  if (["audit", "who", "dsr"].includes(screen)) return "legal_obligation";
  if (screen === "catalog" || screen === "health") return "security";
  if (["segments", "dashboards"].includes(screen)) return roles.includes("marketer") ? "marketing" : "analytics";
  if (roles.includes("compliance_officer")) return "legal_obligation";
  if (roles.includes("analyst")) return "analytics";
  return "support";
}

function allowed(route) { return viewer && viewer.abilities.includes(route.ability); }

function renderHeader() {
  const top = clear(document.getElementById("topbar"));
  document.documentElement.lang = lang() === "zh-Hant" ? "zh-Hant" : "en";
  document.title = t("app.title");
  document.getElementById("skip-link").textContent = t("app.skip");
  top.append(h("div", { class: "brand", text: t("app.title") }));
  const other = lang() === "zh-Hant" ? "en" : "zh-Hant";
  top.append(h("button", { type: "button", class: "lang-toggle", lang: other === "en" ? "en" : "zh-Hant",
                           "aria-label": t("app.switchLang"), onclick: () => { setLang(other); refresh(); },
                           text: other === "en" ? "English" : "繁體中文" }));
  if (viewer) {
    top.append(h("span", { class: "who", text: `${viewer.name || viewer.id} · ${viewer.roles.map((r) => t(`role.${r}`)).join(", ")} · ${viewer.workspace}` }));
    top.append(h("button", { type: "button", onclick: logout, text: t("app.logout") }));
  }
}

function renderNav(active) {
  const nav = clear(document.getElementById("nav"));
  if (!viewer) return;
  for (const group of ["compliance", "marketing", "operations"]) {
    const items = ROUTES.filter((r) => r.group === group && allowed(r));
    if (!items.length) continue;
    nav.append(h("h2", { text: t(`nav.${group}`) }));
    for (const r of items) {
      nav.append(h("a", { href: `#/${r.path}`, "aria-current": r.path === active ? "page" : null, text: t(`nav.${r.path}`) }));
    }
  }
}

function firstRoute() { return ROUTES.find(allowed); }

async function route() {
  const main = document.getElementById("main");
  if (cleanup) { try { cleanup(); } catch { /* view already gone */ } cleanup = null; }
  renderHeader();
  if (!session.get()) { renderNav(null); renderLogin(clear(main), onLogin); return; }
  if (!viewer) {
    clear(main).append(loading());
    try {
      viewer = (await gql("{ viewer { id name kind workspace roles abilities } }")).viewer;
    } catch (err) {
      if (err.code === "UNAUTHENTICATED") return;  // handled by the listener below
      clear(main).append(errorBox(err));
      return;
    }
    renderHeader();
  }
  const [path, query] = (location.hash.replace(/^#\/?/, "") || "").split("?");
  const r = ROUTES.find((x) => x.path === path) || null;
  if (!r) {
    const first = firstRoute();
    if (first) { location.replace(`#/${first.path}`); return; }
    renderNav(null);
    clear(main).append(h("h1", { text: t("app.noScreens") }), h("p", { class: "lede", text: t("app.noScreensHint") }));
    return;
  }
  renderNav(r.path);
  clear(main).append(loading());
  try {
    const mod = await r.load();
    clear(main);
    const params = new URLSearchParams(query || "");
    // A screen the role may not use still opens: the API answers FORBIDDEN and the screen shows it.
    cleanup = (await mod.render(main, { params, viewer, purpose: defaultPurpose(r.path), allowed: allowed(r) })) || null;
    main.focus({ preventScroll: true });
  } catch (err) {
    clear(main).append(errorBox(err));
  }
}

function refresh() { route(); }

function onLogin(s) { session.set(s); viewer = null; location.hash = ""; route(); }

async function logout() { await closeSession(); viewer = null; location.hash = ""; route(); }

window.addEventListener("veil:unauthenticated", () => {
  closeSession();
  viewer = null;
  sessionStorage.setItem("veil.console.notice", "expired");
  route();
});
// The skip link moves focus to the content without touching the hash (the router owns it).
document.getElementById("skip-link").addEventListener("click", (ev) => {
  ev.preventDefault();
  document.getElementById("main").focus();
});
window.addEventListener("hashchange", route);
route();
