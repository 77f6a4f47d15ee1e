// Audit trail: filters, records with their consent record and lawful basis, export, chain status.
import { gql } from "../api.js";
import { t } from "../i18n.js";
import { personInput, resolvePerson } from "../person.js";
import { badge, busy, clear, download, errorBox, field, fmtDate, h, isoFromLocal, select, shortId, table, toast } from "../ui.js";

const ACTIONS = ["", "read", "write", "export", "consent_change", "policy_change", "key_change", "user_change", "login", "ingest", "dsr"];
const DECISIONS = ["", "allow", "deny", "error"];
const PURPOSES = ["", "support", "analytics", "marketing", "personalization", "security", "legal_obligation", "sale", "ads"];
const FIELDS = "seq at actor actorKind role action resource subject decision reason purpose lawfulBasis consentRecordId fieldsReturned fieldsMasked requestId hash";

function fieldsCell(r) {
  if (!r.fieldsReturned.length && !r.fieldsMasked.length) return "—";
  const masked = new Set(r.fieldsMasked);
  return h("details", { class: "fields" }, h("summary", { text: t("audit.fieldCount", { n: r.fieldsReturned.length, m: r.fieldsMasked.length }) }),
    h("ul", {}, r.fieldsReturned.map((f) => h("li", {}, h("code", { text: f }), masked.has(f) ? ` (${t("audit.masked")})` : ""))));
}

export function auditColumns() {
  return [
    { label: t("audit.seq"), key: "seq", num: true },
    { label: t("audit.at"), render: (r) => fmtDate(r.at) },
    { label: t("audit.actor"), render: (r) => h("span", { class: "mono", text: r.actor }) },
    { label: t("audit.role"), render: (r) => r.role ? r.role.split(",").map((x) => t(`role.${x}`, {}, x)).join(", ") : "—" },
    { label: t("audit.actionOn"), render: (r) => h("span", {}, t(`action.${r.action}`, {}, r.action), " ", h("code", { text: r.resource })) },
    { label: t("audit.subject"), render: (r) => shortId(r.subject) },
    { label: t("audit.decision"), render: (r) => h("span", {}, badge(t(`decision.${r.decision}`, {}, r.decision), r.decision === "allow" ? "ok" : "bad"),
                                                     r.reason ? h("small", { class: "reason", text: ` ${r.reason}` }) : null) },
    { label: t("audit.purpose"), render: (r) => r.purpose ? t(`purpose.${r.purpose}`, {}, r.purpose) : "—" },
    { label: t("audit.lawfulBasis"), render: (r) => r.lawfulBasis ? t(`basis.${r.lawfulBasis}`, {}, r.lawfulBasis) : "—" },
    { label: t("audit.consentRecord"), render: (r) => shortId(r.consentRecordId) },
    { label: t("audit.fields"), render: fieldsCell },
  ];
}

function chainPanel(purpose) {
  const panel = h("section", { class: "panel", "aria-labelledby": "chain-title" }, h("h2", { id: "chain-title", text: t("chain.title") }));
  const out = h("div", { "aria-live": "polite", id: "chain-status" });
  const quick = h("button", { type: "button", class: "secondary", text: t("chain.verify") });
  const full = h("button", { type: "button", class: "secondary", text: t("chain.full") });
  async function run(isFull, btn) {
    await busy(btn, out, t("chain.verifying"), async () => {
      try {
        const q = "query($f: Boolean!) { auditChainStatus(full: $f) { ok checked verifiedFrom lastSeq lastHash headSeq brokenSeq problem detail checkpointSeq checkpointAt checkpointKeyId } }";
        const s = (await gql(q, { f: isFull }, { purpose })).auditChainStatus;
        clear(out);
        if (s.ok) {
          out.append(h("div", { class: "state ok", role: "status", "data-chain": "ok", "data-from": s.verifiedFrom },
            h("strong", { text: t("chain.ok") }), " ",
            t("chain.okDetail", { checked: s.checked, from: s.verifiedFrom, last: s.lastSeq ?? s.verifiedFrom })));
        } else {
          out.append(h("div", { class: "state error", role: "alert", "data-chain": "broken", "data-from": s.verifiedFrom },
            h("strong", { text: t("chain.broken", { seq: s.brokenSeq }) }), " ", `${s.problem}: ${s.detail}`, " ",
            t("chain.from", { from: s.verifiedFrom })));
        }
        out.append(h("p", {}, s.checkpointSeq
          ? t("chain.checkpoint", { seq: s.checkpointSeq, at: fmtDate(s.checkpointAt), key: s.checkpointKeyId })
          : t("chain.noCheckpoint")),
          h("p", { class: "lede" }, t("chain.head", { seq: s.headSeq ?? "—" }), " ", h("code", { text: s.lastHash || "" })));
      } catch (err) { clear(out).append(errorBox(err)); }
    });
  }
  quick.addEventListener("click", () => run(false, quick));
  full.addEventListener("click", () => run(true, full));
  panel.append(h("div", { class: "actions" }, quick, full), out);
  run(false, quick);
  return panel;
}

export async function render(main, { params, purpose }) {
  main.append(h("h1", { text: t("nav.audit") }), h("p", { class: "lede", text: t("audit.lede") }));
  main.append(chainPanel(purpose));
  const person = personInput({ type: params.get("type") || "email", value: params.get("value") || "" });
  const actor = h("input", { name: "actor", placeholder: "user:… / key:…", size: 18 });
  const action = select(ACTIONS.map((a) => [a, a ? t(`action.${a}`, {}, a) : t("any")]), "", { name: "action" });
  const decision = select(DECISIONS.map((a) => [a, a ? t(`decision.${a}`) : t("any")]), "", { name: "decision" });
  const readPurpose = select(PURPOSES.map((a) => [a, a ? t(`purpose.${a}`) : t("any")]), "", { name: "readPurpose" });
  const since = h("input", { type: "datetime-local", name: "since" });
  const until = h("input", { type: "datetime-local", name: "until" });
  const limit = select([[50, "50"], [100, "100"]], 100, { name: "first" });
  const search = h("button", { type: "submit", text: t("search") });
  const form = h("form", { class: "filters", role: "search", "aria-label": t("audit.filters") },
    person.nodes, field(t("audit.actor"), actor), field(t("audit.action"), action), field(t("audit.decision"), decision),
    field(t("audit.purpose"), readPurpose), field(t("since"), since), field(t("until"), until), field(t("audit.first"), limit), search);
  const exportCsv = h("button", { type: "button", class: "secondary", text: t("audit.exportCsv") });
  const exportJsonl = h("button", { type: "button", class: "secondary", text: t("audit.exportJsonl") });
  const exportStatus = h("span", { "aria-live": "polite", id: "export-status" });
  const results = h("div", { id: "audit-results", "aria-live": "polite" });
  main.append(h("section", { class: "panel" }, h("h2", { text: t("audit.filters") }), form),
    h("section", { class: "panel", "aria-labelledby": "rec-title" }, h("h2", { id: "rec-title", text: t("audit.records") }),
      h("div", { class: "actions" }, exportCsv, exportJsonl, exportStatus), results));

  async function filters() {
    const f = { actor: actor.value.trim() || null, action: action.value || null, decision: decision.value || null,
                readPurpose: readPurpose.value || null, since: isoFromLocal(since.value), until: isoFromLocal(until.value) };
    f.subject = person.filled() ? await resolvePerson(person.state(), purpose) : null;
    return f;
  }

  async function load() {
    await busy(search, results, t("loading"), async () => {
      try {
        const f = await filters();
        const q = `query($subject: String, $actor: String, $action: String, $decision: String, $readPurpose: String, $since: DateTime, $until: DateTime, $first: Int!) {
          auditRecords(subject: $subject, actor: $actor, action: $action, decision: $decision, readPurpose: $readPurpose, since: $since, until: $until, first: $first) { ${FIELDS} } }`;
        const rows = (await gql(q, { ...f, first: Number(limit.value) }, { purpose })).auditRecords;
        clear(results).append(h("p", { class: "lede", role: "status", text: t("audit.count", { n: rows.length }) }),
          table(auditColumns(), rows, { caption: t("audit.records"), empty: t("audit.none") }));
      } catch (err) { clear(results).append(errorBox(err)); }
    });
  }

  async function doExport(fmt, btn) {
    await busy(btn, null, null, async () => {
      exportStatus.textContent = t("audit.exporting");
      try {
        const f = await filters();
        const q = `query($format: String!, $subject: String, $actor: String, $action: String, $decision: String, $readPurpose: String, $since: DateTime, $until: DateTime) {
          auditExport(format: $format, subject: $subject, actor: $actor, action: $action, decision: $decision, readPurpose: $readPurpose, since: $since, until: $until) { format records firstSeq lastSeq content } }`;
        const e = (await gql(q, { ...f, format: fmt }, { purpose })).auditExport;
        download(`veil-audit-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, "")}.${fmt}`, e.content,
                 fmt === "csv" ? "text/csv" : "application/x-ndjson");
        exportStatus.textContent = t("audit.exported", { n: e.records });
        toast(t("audit.exported", { n: e.records }));
      } catch (err) { exportStatus.textContent = ""; results.prepend(errorBox(err)); }
    });
  }

  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  exportCsv.addEventListener("click", () => doExport("csv", exportCsv));
  exportJsonl.addEventListener("click", () => doExport("jsonl", exportJsonl));
  load();
}
