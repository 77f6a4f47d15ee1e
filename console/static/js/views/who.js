// "Who saw this customer": every read, export and send of one person's data, with purpose and role.
import { gql } from "../api.js";
import { t } from "../i18n.js";
import { personInput, resolvePerson } from "../person.js";
import { busy, clear, empty, errorBox, h, table } from "../ui.js";
import { auditColumns } from "./audit.js";

const ACCESS = new Set(["read", "export", "send"]);
const FIELDS = "seq at actor actorKind role action resource subject decision reason purpose lawfulBasis consentRecordId fieldsReturned fieldsMasked requestId hash";

export async function render(main, { params, purpose }) {
  main.append(h("h1", { text: t("nav.who") }), h("p", { class: "lede", text: t("who.lede") }));
  const person = personInput({ type: params.get("type") || "email", value: params.get("value") || "" });
  const go = h("button", { type: "submit", text: t("search") });
  const form = h("form", { class: "filters", role: "search", "aria-label": t("nav.who") }, person.nodes, go);
  const out = h("div", { "aria-live": "polite", id: "who-results" }, empty(t("who.start")));
  main.append(h("section", { class: "panel" }, form), out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!person.filled()) { clear(out).append(empty(t("who.start"))); return; }
    await busy(go, out, t("loading"), async () => {
      try {
        const subject = await resolvePerson(person.state(), purpose);
        const q = `query($s: String!) { auditRecords(subject: $s, first: 100) { ${FIELDS} } }`;
        const rows = (await gql(q, { s: subject }, { purpose })).auditRecords.filter((r) => ACCESS.has(r.action));
        const byActor = new Map();
        for (const r of rows) {
          const k = `${r.actor}|${r.role || ""}`;
          const e = byActor.get(k) || { actor: r.actor, role: r.role, n: 0, purposes: new Set() };
          e.n += 1; if (r.purpose) e.purposes.add(r.purpose);
          byActor.set(k, e);
        }
        clear(out).append(
          h("section", { class: "panel" }, h("h2", { text: t("who.subject") }), h("code", { text: subject })),
          h("section", { class: "panel" }, h("h2", { text: t("who.summary") }),
            table([{ label: t("audit.actor"), render: (e) => h("span", { class: "mono", text: e.actor }) },
                   { label: t("audit.role"), render: (e) => (e.role || "").split(",").filter(Boolean).map((x) => t(`role.${x}`, {}, x)).join(", ") || "—" },
                   { label: t("who.accesses"), key: "n", num: true },
                   { label: t("audit.purpose"), render: (e) => [...e.purposes].map((p) => t(`purpose.${p}`, {}, p)).join(", ") || "—" }],
                  [...byActor.values()], { empty: t("who.none") })),
          h("section", { class: "panel" }, h("h2", { text: t("who.detail") }),
            table(auditColumns(), rows, { caption: t("who.detail"), empty: t("who.none") })));
      } catch (err) { clear(out).append(errorBox(err)); }
    });
  });
  if (person.filled()) form.requestSubmit();
}
