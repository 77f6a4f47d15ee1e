// A person's consent history per purpose and channel, with notice version and source.
import { gql } from "../api.js";
import { t } from "../i18n.js";
import { personScreen, resolvePerson } from "../person.js";
import { badge, fmtDate, h, shortId, table } from "../ui.js";

const STATUS_KIND = { granted: "ok", denied: "bad", withdrawn: "bad" };

function sourceLabel(src) {
  if (!src) return "—";
  const k = src.split(":")[0];
  return t(`source.${k}`, {}, src);
}

export async function render(main, { params, purpose }) {
  personScreen(main, { params, purpose, pickPurpose: true, title: t("nav.consent"), lede: t("consent.lede"), resultsId: "consent-results",
    load: async ({ person, purpose: p }) => {
      const id = await resolvePerson(person, p);
      const q = "query($id: ID!, $p: Purpose) { consents(profileId: $id, purpose: $p) { id purpose channel status lawfulBasis source capturedAt expiresAt noticeVersion noticeHash jurisdiction } }";
      const rows = (await gql(q, { id, p }, { purpose: p })).consents
        .slice().sort((a, b) => (a.capturedAt < b.capturedAt ? 1 : -1));
      const current = new Map();
      for (const r of rows) { const k = `${r.purpose}|${r.channel}`; if (!current.has(k)) current.set(k, r); }
      return [
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
                 { label: t("consent.record"), render: (r) => shortId(r.id) }],
                rows, { caption: t("consent.history"), empty: t("consent.none") }))];
    } });
}
