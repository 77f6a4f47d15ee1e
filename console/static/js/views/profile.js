// Profile viewer through the enforcement chain: pick a purpose, see masked fields with the reason.
import { gql } from "../api.js";
import { t } from "../i18n.js";
import { personScreen } from "../person.js";
import { badge, empty, fmtDate, fmtNum, h, table } from "../ui.js";

const FIELDS = "id firstSeen lastSeen traits { name value category masking } identifiers { name value category masking } interactionCount withheld purpose lawfulBasis consentRecordId";

function shown(v) {
  if (v === null || v === undefined) return h("span", { class: "suppressed", text: t("profile.null") });
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

function maskCell(f) {
  const kind = f.masking === "plain" ? "ok" : "warn";
  return h("span", {}, badge(t(`mask.${f.masking}`, {}, f.masking), kind), " ",
    h("small", { class: "lede", text: t(`maskWhy.${f.masking}`, { category: t(`cat.${f.category}`, {}, f.category) }, "") }));
}

export async function render(main, { params, purpose }) {
  personScreen(main, { params, purpose, pickPurpose: true, title: t("nav.profile"), lede: t("profile.lede"), resultsId: "profile-results",
    submitLabel: t("profile.open"),
    load: async ({ person: s, purpose: p }) => {
      const data = s.type === "profile_id"
        ? await gql(`query($id: ID!, $p: Purpose) { profile(id: $id, purpose: $p) { ${FIELDS} } }`, { id: s.value, p }, { purpose: p })
        : await gql(`query($t: String!, $v: String!, $p: Purpose) { profile: profileByIdentifier(type: $t, value: $v, purpose: $p) { ${FIELDS} } }`, { t: s.type, v: s.value, p }, { purpose: p });
      const prof = data.profile;
      const cols = [{ label: t("profile.field"), render: (f) => h("code", { text: f.name }) },
                    { label: t("profile.value"), render: (f) => shown(f.value) },
                    { label: t("profile.category"), render: (f) => t(`cat.${f.category}`, {}, f.category) },
                    { label: t("profile.shownAs"), render: maskCell }];
      return [
        h("section", { class: "panel", "aria-labelledby": "pv-title" }, h("h2", { id: "pv-title", text: t("profile.summary") }),
          h("div", { class: "cards" },
            card(t("profile.id"), h("code", { text: prof.id })), card(t("profile.purpose"), t(`purpose.${prof.purpose}`, {}, prof.purpose)),
            card(t("audit.lawfulBasis"), prof.lawfulBasis ? t(`basis.${prof.lawfulBasis}`, {}, prof.lawfulBasis) : "—"),
            card(t("audit.consentRecord"), prof.consentRecordId ? h("code", { text: prof.consentRecordId }) : "—"),
            card(t("profile.firstSeen"), fmtDate(prof.firstSeen)), card(t("profile.lastSeen"), fmtDate(prof.lastSeen)),
            card(t("profile.interactions"), prof.interactionCount === null ? t("profile.withheldShort") : fmtNum(prof.interactionCount))),
          h("p", { class: "lede", text: t("profile.audited") })),
        h("section", { class: "panel" }, h("h2", { text: t("profile.traits") }), table(cols, prof.traits, { empty: t("profile.noTraits") })),
        h("section", { class: "panel" }, h("h2", { text: t("profile.identifiers") }),
          prof.identifiers === null ? h("div", { class: "state warn", role: "status", text: t("profile.identifiersWithheld") })
            : table(cols, prof.identifiers, { empty: t("profile.noIdentifiers") })),
        h("section", { class: "panel" }, h("h2", { text: t("profile.withheld") }),
          prof.withheld.length ? h("ul", { id: "withheld" }, prof.withheld.map((w) => h("li", {}, h("code", { text: w }), " — ", t("profile.withheldWhy"))))
            : empty(t("profile.nothingWithheld")))];
    } });
}

function card(label, value) {
  return h("div", { class: "card" }, h("div", { class: "label", text: label }), h("div", { class: "value" }, value));
}
