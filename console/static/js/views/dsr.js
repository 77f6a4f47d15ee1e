// Data-subject requests: open, advance, deadline countdown, overdue list, access package, erasure.
import { gql } from "../api.js";
import { t } from "../i18n.js";
import { personInput } from "../person.js";
import { badge, busy, clear, download, errorBox, field, fmtDate, h, select, table, toast } from "../ui.js";

const KINDS = ["access", "erasure", "rectification", "restriction", "objection"];
const NEXT = { received: "verified", verified: "approved", approved: "running" };
const CASE = "id kind subject state receivedAt dueAt updatedAt overdue requestedBy result history { state at actor }";

function countdown(c) {
  if (c.state === "done" || c.state === "failed") return badge(t(`dsr.state.${c.state}`, {}, c.state), c.state === "done" ? "ok" : "bad");
  const days = Math.ceil((new Date(c.dueAt).getTime() - Date.now()) / 86400000);
  if (days < 0) return badge(t("dsr.overdueBy", { n: -days }), "bad");
  return badge(t("dsr.dueIn", { n: days }), days <= 5 ? "warn" : "ok");
}

export async function render(main, { purpose, viewer }) {
  const canWrite = viewer.abilities.includes("dsr:write");
  main.append(h("h1", { text: t("nav.dsr") }), h("p", { class: "lede", text: t("dsr.lede") }));
  const list = h("div", { id: "dsr-list", "aria-live": "polite" });
  const stateSel = select([["", t("any")], ...["received", "verified", "approved", "running", "done", "failed"].map((s) => [s, t(`dsr.state.${s}`)])], "", { name: "state" });
  const overdue = h("input", { type: "checkbox", name: "overdue" });
  const filters = h("form", { class: "filters", "aria-label": t("dsr.filters") }, field(t("dsr.stateLabel"), stateSel),
    h("label", { class: "field" }, h("span", { text: t("dsr.overdueOnly") }), overdue), h("button", { type: "submit", text: t("search") }));
  const dialog = h("dialog", { "aria-labelledby": "erase-title" });
  document.body.append(dialog);

  if (canWrite) {
    const kind = select(KINDS.map((k) => [k, t(`dsr.kind.${k}`, {}, k)]), "access", { name: "kind" });
    const person = personInput();
    const create = h("button", { type: "submit", text: t("dsr.create") });
    const status = h("div", { "aria-live": "polite" });
    const form = h("form", { class: "filters", "aria-label": t("dsr.create") }, field(t("dsr.kindLabel"), kind), person.nodes, create);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!person.filled()) { clear(status).append(h("div", { class: "state error", role: "alert", text: t("person.missing") })); return; }
      await busy(create, status, t("dsr.creating"), async () => {
        try {
          const s = person.state();
          const vars = s.type === "profile_id" ? { k: kind.value.toUpperCase(), pid: s.value } : { k: kind.value.toUpperCase(), it: s.type, iv: s.value };
          const q = `mutation($k: DsrKind!, $pid: ID, $it: String, $iv: String) { createDsr(kind: $k, profileId: $pid, identifierType: $it, identifierValue: $iv) { ${CASE} } }`;
          const c = (await gql(q, vars, { purpose })).createDsr;
          clear(status).append(h("div", { class: "state ok", role: "status", text: t("dsr.created", { id: c.id, due: fmtDate(c.dueAt) }) }));
          person.value.value = "";
          load();
        } catch (err) { clear(status).append(errorBox(err)); }
      });
    });
    main.append(h("section", { class: "panel" }, h("h2", { text: t("dsr.new") }), form, status));
  }
  main.append(h("section", { class: "panel" }, h("h2", { text: t("dsr.cases") }), filters, list));

  function confirmErasure(c) {
    return new Promise((resolve) => {
      clear(dialog);
      const input = h("input", { name: "confirm", autocomplete: "off" });
      const ok = h("button", { type: "button", class: "danger", text: t("dsr.eraseConfirm") });
      const cancel = h("button", { type: "button", class: "secondary", text: t("cancel") });
      ok.disabled = true;
      input.addEventListener("input", () => { ok.disabled = input.value.trim() !== c.subject; });
      ok.addEventListener("click", () => { dialog.close(); resolve(true); });
      cancel.addEventListener("click", () => { dialog.close(); resolve(false); });
      dialog.addEventListener("cancel", () => resolve(false), { once: true });
      dialog.append(h("h2", { id: "erase-title", text: t("dsr.eraseTitle") }), h("p", { text: t("dsr.eraseWarn") }),
        h("p", {}, t("dsr.eraseType"), " ", h("code", { text: c.subject })), field(t("dsr.subject"), input), h("div", { class: "actions" }, ok, cancel));
      dialog.showModal();
      input.focus();
    });
  }

  async function advance(c, btn, cell) {
    const to = NEXT[c.state];
    if (to === "running" && c.kind === "erasure" && !(await confirmErasure(c))) return;
    await busy(btn, cell, to === "running" ? t("dsr.running") : t("loading"), async () => {
      try {
        const q = `mutation($id: ID!) { advanceDsr(id: $id) { ${CASE} } }`;
        const n = (await gql(q, { id: c.id }, { purpose })).advanceDsr;
        toast(t("dsr.advanced", { id: n.id, state: t(`dsr.state.${n.state}`, {}, n.state) }));
        load();
      } catch (err) { clear(cell).append(errorBox(err)); }
    });
  }

  async function fetchPackage(c, btn) {
    await busy(btn, null, null, async () => {
      try {
        const p = (await gql("query($id: ID!) { dsrPackage(id: $id) { filename contentBase64 size } }", { id: c.id }, { purpose })).dsrPackage;
        const bytes = Uint8Array.from(atob(p.contentBase64), (ch) => ch.charCodeAt(0));
        download(p.filename, new Blob([bytes], { type: "application/zip" }));
        toast(t("dsr.downloaded", { name: p.filename }));
      } catch (err) { list.prepend(errorBox(err)); }
    });
  }

  async function load() {
    clear(list).append(h("div", { class: "state loading", role: "status", text: t("loading") }));
    try {
      const q = `query($s: DsrState, $o: Boolean!) { dsrCases(state: $s, overdue: $o, first: 100) { ${CASE} } }`;
      const rows = (await gql(q, { s: stateSel.value ? stateSel.value.toUpperCase() : null, o: overdue.checked }, { purpose })).dsrCases;
      const cols = [
        { label: t("dsr.id"), render: (c) => h("span", { class: "mono", text: c.id }) },
        { label: t("dsr.kindLabel"), render: (c) => t(`dsr.kind.${c.kind}`, {}, c.kind) },
        { label: t("dsr.subject"), render: (c) => h("span", { class: "mono", text: c.subject }) },
        { label: t("dsr.stateLabel"), render: (c) => t(`dsr.state.${c.state}`, {}, c.state) },
        { label: t("dsr.received"), render: (c) => fmtDate(c.receivedAt) },
        { label: t("dsr.due"), render: (c) => h("span", {}, fmtDate(c.dueAt), " ", countdown(c)) },
        { label: t("dsr.actions"), render: (c) => {
          const cell = h("div", { class: "actions" });
          if (canWrite && NEXT[c.state]) {
            const label = NEXT[c.state] === "running" ? (c.kind === "erasure" ? t("dsr.runErasure") : t("dsr.run")) : t("dsr.advanceTo", { state: t(`dsr.state.${NEXT[c.state]}`) });
            const b = h("button", { type: "button", class: c.kind === "erasure" && NEXT[c.state] === "running" ? "danger" : "secondary", text: label,
                                    "aria-label": `${label} ${c.id}` });
            b.addEventListener("click", () => advance(c, b, cell));
            cell.append(b);
          }
          if (c.kind === "access" && c.state === "done") {
            const b = h("button", { type: "button", class: "secondary", text: t("dsr.package"), "aria-label": `${t("dsr.package")} ${c.id}` });
            b.addEventListener("click", () => fetchPackage(c, b));
            cell.append(b);
          }
          return cell;
        } },
      ];
      const overdueCount = rows.filter((r) => r.overdue).length;
      clear(list).append(h("p", { class: "lede", role: "status" }, t("dsr.count", { n: rows.length }), " ",
        overdueCount ? badge(t("dsr.overdueCount", { n: overdueCount }), "bad") : null),
        table(cols, rows, { caption: t("dsr.cases"), empty: t("dsr.none") }));
    } catch (err) { clear(list).append(errorBox(err)); }
  }
  filters.addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  load();
  return () => dialog.remove();
}
