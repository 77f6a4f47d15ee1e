// Log in as a staff user (the `login` mutation) or with an API key; nothing else is accepted.
import { gql, openSession } from "../api.js";
import { t } from "../i18n.js";
import { clear, errorBox, field, h } from "../ui.js";

export function renderLogin(main, onLogin) {
  let mode = "user";
  const notice = sessionStorage.getItem("veil.console.notice");
  sessionStorage.removeItem("veil.console.notice");
  const box = h("section", { class: "panel login", "aria-labelledby": "login-title" });
  main.append(box);

  function draw() {
    clear(box);
    box.append(h("h1", { id: "login-title", text: t("login.title") }), h("p", { class: "lede", text: t("login.lede") }));
    if (notice === "expired") box.append(h("div", { class: "state warn", role: "status", text: t("login.expired") }));
    const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": t("login.method") },
      ["user", "key"].map((m) => h("button", { type: "button", role: "tab", "aria-selected": String(mode === m),
                                                 onclick: () => { mode = m; draw(); }, text: t(`login.${m}`) })));
    box.append(tabs);
    const status = h("div", { "aria-live": "polite" });
    let form;
    if (mode === "user") {
      const username = h("input", { name: "username", autocomplete: "username", required: true });
      const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
      const workspace = h("input", { name: "workspace", value: localStorage.getItem("veil.console.workspace") || "demo", required: true });
      form = h("form", { novalidate: true },
        field(t("login.username"), username), field(t("login.password"), password), field(t("login.workspace"), workspace),
        h("button", { type: "submit", text: t("login.submit") }), status);
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        if (!username.value || !password.value || !workspace.value) { clear(status).append(h("div", { class: "state error", role: "alert", text: t("login.missing") })); return; }
        clear(status).append(h("div", { class: "state loading", role: "status", text: t("login.checking") }));
        try {
          const q = "mutation($u: String!, $p: String!, $w: String!) { login(username: $u, password: $p, workspace: $w) { token roles expiresInSeconds } }";
          const d = await gql(q, { u: username.value, p: password.value, w: workspace.value.trim() }, { token: "" });
          localStorage.setItem("veil.console.workspace", workspace.value.trim());
          const s = await openSession(d.login.token);
          onLogin({ csrf: s.csrf, kind: "user", expiresAt: Date.now() + d.login.expiresInSeconds * 1000 });
        } catch (err) {
          password.value = "";
          clear(status).append(errorBox(err));
          password.focus();
        }
      });
    } else {
      const key = h("input", { name: "apikey", type: "password", autocomplete: "off", required: true });
      form = h("form", { novalidate: true }, field(t("login.apikey"), key, t("login.apikeyHint")),
        h("button", { type: "submit", text: t("login.submit") }), status);
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const token = key.value.trim();
        if (!token) { clear(status).append(h("div", { class: "state error", role: "alert", text: t("login.missing") })); return; }
        clear(status).append(h("div", { class: "state loading", role: "status", text: t("login.checking") }));
        try {
          const s = await openSession(token);
          onLogin({ csrf: s.csrf, kind: "key" });
        } catch (err) {
          clear(status).append(errorBox(err));
          key.focus();
        }
      });
    }
    box.append(form);
    const first = form.querySelector("input");
    if (first) first.focus();
  }
  draw();
}
