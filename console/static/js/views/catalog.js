// Trait catalog (administrators): each key's PII category, how it was decided, and overrides.
import { gql } from "../api.js";
import { t } from "../i18n.js";
import { badge, busy, clear, errorBox, field, fmtDate, h, select, table, toast } from "../ui.js";

const CATEGORIES = ["contact", "government_id", "financial", "location", "birth_date", "free_text", "non_pii"];

export async function render(main, { purpose }) {
  main.append(h("h1", { text: t("nav.catalog") }), h("p", { class: "lede", text: t("cat.lede") }));
  const scope = select(["TRAIT", "PROPERTY"].map((s) => [s, t(`cat.scope.${s}`)]), "TRAIT", { name: "scope" });
  const out = h("div", { id: "catalog-results", "aria-live": "polite" });
  main.append(h("section", { class: "panel" }, h("form", { class: "filters" }, field(t("cat.scope"), scope)), out));

  async function setCategory(e, sel, btn) {
    await busy(btn, null, null, async () => {
      try {
        const q = "mutation($k: String!, $c: String!, $s: CatalogScope!) { setTraitCategory(key: $k, category: $c, scope: $s) { key category } }";
        const r = (await gql(q, { k: e.key, c: sel.value, s: scope.value }, { purpose })).setTraitCategory;
        toast(t("cat.overridden", { key: r.key, category: t(`cat.${r.category}`, {}, r.category) }));
        load();
      } catch (err) { out.prepend(errorBox(err)); }
    });
  }

  async function load() {
    clear(out).append(h("div", { class: "state loading", role: "status", text: t("loading") }));
    try {
      const q = "query($s: CatalogScope) { traitCatalog(scope: $s) { scope key category sensitivity decidedBy decidedAt actor } }";
      const rows = (await gql(q, { s: scope.value }, { purpose })).traitCatalog;
      clear(out).append(table([
        { label: t("cat.key"), render: (e) => h("code", { text: e.key }) },
        { label: t("cat.categoryLabel"), render: (e) => badge(t(`cat.${e.category}`, {}, e.category), e.category === "non_pii" ? "ok" : "warn") },
        { label: t("cat.sensitivity"), key: "sensitivity" },
        { label: t("cat.decidedBy"), render: (e) => t(`cat.by.${e.decidedBy}`, {}, e.decidedBy) },
        { label: t("cat.decidedAt"), render: (e) => fmtDate(e.decidedAt) },
        { label: t("dsr.actions"), render: (e) => {
          const sel = select(CATEGORIES.map((c) => [c, t(`cat.${c}`)]), e.category, { "aria-label": `${t("cat.categoryLabel")}: ${e.key}` });
          const btn = h("button", { type: "button", class: "secondary", text: t("cat.override"), "aria-label": `${t("cat.override")}: ${e.key}` });
          btn.addEventListener("click", () => setCategory(e, sel, btn));
          return h("div", { class: "actions" }, sel, btn);
        } },
      ], rows, { caption: t("nav.catalog"), empty: t("cat.none") }));
    } catch (err) { clear(out).append(errorBox(err)); }
  }
  scope.addEventListener("change", load);
  load();
}
