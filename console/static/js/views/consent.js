// A person's consent history per purpose and channel, with notice version and source.
import { gql } from "../api.js";
import { t } from "../i18n.js";
import { personInput, resolvePerson } from "../person.js";
import { badge, busy, clear, empty, errorBox, fmtDate, h, table } from "../ui.js";
import { purposePicker } from "./purpose.js";

const STATUS_KIND = { granted: "ok", denied: "bad", withdrawn: "bad" };

function sourceLabel(src) {
  if (!src) return "—";
  const k = src.split(":")[0];
  return t(`source.${k}`, {}, src);
}

export async function render(main, { params, purpose }) {
  main.append(h("h1", { text: t("nav.consent") }), h("p", { class: "lede", text: t("consent.lede") }));
  const person = personInput({ type: params.get("type") || "email", value: params.get("value") || "" });
  const pp = purposePicker(purpose);
  const go = h("button", { type: "submit", text: t("search") });
  const form = h("form", { class: "filters", role: "search", "aria-label": t("nav.consent") }, person.nodes, pp.node, go);
  const out = h("div", { "aria-live": "polite", id: "consent-results" }, empty(t("who.start")));
  main.append(h("section", { class: "panel" }, form), out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!person.filled()) { clear(out).append(empty(t("who.start"))); return; }
    await busy(go, out, t("loading"), async () => {
      try {
        const p = pp.select.value;
        const id = await resolvePerson(person.state(), p);
        const q = "query($id: ID!, $p: Purpose) { consents(profileId: $id, purpose: $p) { id purpose channel status lawfulBasis source capturedAt expiresAt noticeVersion noticeHash jurisdiction } }";
        const rows = (await gql(q, { id, p }, { purpose: p })).consents
          .slice().sort((a, b) => (a.capturedAt < b.capturedAt ? 1 : -1));
        const current = new Map();
        for (const r of rows) { const k = `${r.purpose}|${r.channel}`; if (!current.has(k)) current.set(k, r); }
        clear(out).append(
          h("section", { class: "panel" }, h("h2", { text: t("consent.current") }),
            table([{ label: t("consent.purpose"), render: (r) => t(`purpose.${r.purpose}`, {}, r.purpose) },
                   { label: t("consent.channel"), render: (r) => t(`channel.${r.channel}`, {}, r.channel) },
                   { label: t("consent.status"), render: (r) => badge(t(`consent.st.${r.status}`, {}, r.status), STATUS_KIND[r.status] || "") },
                   { label: t("consent.since"), render: (r) => fmtDate(r.capturedAt) }],
                  [...current.values()], { empty: t("consent.none") })),
          h("section", { class: "panel" }, h("h2", { text: t("consent.history") }),
            table([{ label: t("consent.captured"), render: (r) => fmtDate(r.capturedAt) },
                   { label: t("consent.purpose"), render: (r) => t(`purpose.${r.purpose}`, {}, r.purpose) },
                   { label: t("consent.channel"), render: (r) => t(`channel.${r.channel}`, {}, r.channel) },
                   { label: t("consent.status"), render: (r) => badge(t(`consent.st.${r.status}`, {}, r.status), STATUS_KIND[r.status] || "") },
                   { label: t("audit.lawfulBasis"), render: (r) => t(`basis.${r.lawfulBasis}`, {}, r.lawfulBasis) },
                   { label: t("consent.source"), render: (r) => sourceLabel(r.source) },
                   { label: t("consent.notice"), render: (r) => r.noticeVersion || "—" },
                   { label: t("consent.expires"), render: (r) => fmtDate(r.expiresAt) },
                   { label: t("consent.jurisdiction"), key: "jurisdiction" },
                   { label: t("consent.record"), render: (r) => h("span", { class: "mono", text: r.id }) }],
                  rows, { caption: t("consent.history"), empty: t("consent.none") })));
      } catch (err) { clear(out).append(errorBox(err)); }
    });
  });
  if (person.filled()) form.requestSubmit();
}
