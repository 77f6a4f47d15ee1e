// "Who saw this customer": every read, export and send of one person's data, with purpose and role.
import { gql } from "../api.js";
import { t } from "../i18n.js";
import { personScreen, resolvePerson } from "../person.js";
import { h, table } from "../ui.js";
import { auditColumns } from "./audit.js";

const ACCESS = new Set(["read", "export", "send"]);
const FIELDS = "seq at actor actorKind role action resource subject decision reason purpose lawfulBasis consentRecordId fieldsReturned fieldsMasked requestId hash";

export async function render(main, { params, purpose }) {
  personScreen(main, { params, purpose, title: t("nav.who"), lede: t("who.lede"), resultsId: "who-results",
    load: async ({ person, purpose: p }) => {
      const subject = await resolvePerson(person, p);
      const q = `query($s: String!) { auditRecords(subject: $s, first: 100) { ${FIELDS} } }`;
      const rows = (await gql(q, { s: subject }, { purpose: p })).auditRecords.filter((r) => ACCESS.has(r.action));
      const byActor = new Map();
      for (const r of rows) {
        const k = `${r.actor}|${r.role || ""}`;
        const e = byActor.get(k) || { actor: r.actor, role: r.role, n: 0, purposes: new Set() };
        e.n += 1; if (r.purpose) e.purposes.add(r.purpose);
        byActor.set(k, e);
      }
      return [
        h("section", { class: "panel" }, h("h2", { text: t("who.subject") }), h("code", { text: subject })),
        h("section", { class: "panel" }, h("h2", { text: t("who.summary") }),
          table([{ label: t("audit.actor"), render: (e) => h("span", { class: "mono", text: e.actor }) },
                 { label: t("audit.role"), render: (e) => (e.role || "").split(",").filter(Boolean).map((x) => t(`role.${x}`, {}, x)).join(", ") || "—" },
                 { label: t("who.accesses"), key: "n", num: true },
                 { label: t("audit.purpose"), render: (e) => [...e.purposes].map((x) => t(`purpose.${x}`, {}, x)).join(", ") || "—" }],
                [...byActor.values()], { empty: t("who.none") })),
        h("section", { class: "panel" }, h("h2", { text: t("who.detail") }),
          table(auditColumns(), rows, { caption: t("who.detail"), empty: t("who.none") }))];
    } });
}
