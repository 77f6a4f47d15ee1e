// Segment builder: a form over the condition language, live count and masked sample, save, size over time.
import { gql } from "../api.js";
import { t } from "../i18n.js";
import { badge, busy, clear, debounce, empty, errorBox, field, fmtDate, fmtDay, fmtNum, h, select, table, toast } from "../ui.js";
import { lineChart } from "./charts.js";
import { PURPOSES } from "./purpose.js";

const TYPES = ["purchase", "event", "trait", "identifier", "consent", "score", "segment"];
const OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists"];
const COUNT_OPS = ["at_least", "at_most", "exactly"];
const SCORES = ["lifecycle_stage", "rfm_segment", "rfm_recency", "rfm_frequency", "rfm_monetary", "stars",
                "purchase_probability", "expected_purchases", "p_alive", "clv", "orders", "revenue"];
const CHANNELS = ["any", "email", "sms", "line", "app_push", "web", "ads"];

function typed(raw, op) {
  if (op === "in") return raw.split(",").map((s) => typed(s.trim(), "eq")).filter((v) => v !== "");
  const s = String(raw).trim();
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  if (s === "true" || s === "false") return s === "true";
  return s;
}

function numberInput(name, value, min = 0) { return h("input", { type: "number", name, value, min, step: "1", class: "num-in", size: 5 }); }

function conditionRow(vocab, segments, onChange, onRemove, init = {}) {
  const type = select(TYPES.map((x) => [x, t(`seg.type.${x}`)]), init.type || "purchase", { name: "ctype" });
  const negate = h("input", { type: "checkbox", name: "negate" });
  if (init.not) negate.checked = true;
  const body = h("div", { class: "actions" });
  const row = h("fieldset", { class: "cond" }, h("legend", { class: "visually-hidden", text: t("seg.condition") }),
    field(t("seg.kind"), type), body,
    h("label", { class: "field" }, h("span", { text: t("seg.exclude") }), negate),
    h("button", { type: "button", class: "link", text: t("seg.remove"), onclick: () => { row.remove(); onRemove(); } }));
  let read = () => null;

  function draw() {
    clear(body);
    const x = type.value;
    if (x === "purchase") {
      const cat = select(vocab.categories.length ? vocab.categories : [""], init.category || vocab.categories[0], { name: "category" });
      const days = numberInput("days", init.days ?? 90, 1);
      body.append(field(t("seg.category"), cat), field(t("seg.withinDays"), days));
      read = () => ({ type: "purchase", categories: [cat.value], window: { last: Number(days.value) || 1, unit: "days" } });
    } else if (x === "event") {
      const ev = select(vocab.events.length ? vocab.events : [""], vocab.events[0], { name: "event" });
      const op = select(COUNT_OPS.map((o) => [o, t(`seg.count.${o}`)]), "at_least", { name: "countop" });
      const n = numberInput("n", 1, 0);
      const days = numberInput("days", 30, 1);
      body.append(field(t("seg.event"), ev), field(t("seg.times"), op), field(t("seg.n"), n), field(t("seg.withinDays"), days));
      read = () => ({ type: "event", event: ev.value, count: { op: op.value, n: Number(n.value) || 0 }, window: { last: Number(days.value) || 1, unit: "days" } });
    } else if (x === "trait" || x === "score") {
      const names = x === "trait" ? vocab.traits : SCORES;
      const name = select(names.length ? names : [""], names[0], { name: "name" });
      const op = select(OPS.map((o) => [o, t(`seg.op.${o}`)]), "eq", { name: "op" });
      const value = h("input", { name: "value", size: 14 });
      body.append(field(t("seg.name"), name), field(t("seg.opLabel"), op), field(t("seg.value"), value));
      read = () => (op.value === "exists" ? { type: x, name: name.value, op: "exists" }
        : { type: x, name: name.value, op: op.value, value: typed(value.value, op.value) });
    } else if (x === "identifier") {
      const id = select(vocab.identifierTypes, vocab.identifierTypes.includes("email") ? "email" : vocab.identifierTypes[0], { name: "identifier" });
      body.append(field(t("seg.identifier"), id));
      read = () => ({ type: "identifier", identifier: id.value });
    } else if (x === "consent") {
      const p = select(PURPOSES.map((v) => [v, t(`purpose.${v}`)]), "marketing", { name: "cpurpose" });
      const ch = select(CHANNELS.map((v) => [v, t(`channel.${v}`, {}, v)]), "any", { name: "channel" });
      body.append(field(t("purpose.label"), p), field(t("consent.channel"), ch));
      read = () => ({ type: "consent", purpose: p.value, channel: ch.value });
    } else {
      const s = select(segments.length ? segments.map((g) => [g.id, g.name]) : [["", t("seg.noSaved")]], "", { name: "segment" });
      body.append(field(t("seg.savedSegment"), s));
      read = () => ({ type: "segment", id: s.value });
    }
  }
  type.addEventListener("change", () => { init = {}; draw(); onChange(); });
  row.addEventListener("input", onChange);
  row.addEventListener("change", onChange);
  draw();
  return { node: row, condition: () => { const c = read(); return negate.checked ? { type: "not", condition: c } : c; } };
}

export async function render(main, { purpose, viewer }) {
  const canWrite = viewer.abilities.includes("segments:write");
  main.append(h("h1", { text: t("nav.segments") }), h("p", { class: "lede", text: t("seg.lede") }));
  const out = h("div");
  main.append(out);
  let vocab;
  let saved = [];
  try {
    const d = await gql("{ segmentVocabulary { traits events categories identifierTypes } segments { id name definition realtime lastEvaluatedAt } }", {}, { purpose });
    vocab = d.segmentVocabulary; saved = d.segments;
  } catch (err) { out.append(errorBox(err)); return; }

  const rows = [];
  const combinator = select([["and", t("seg.and")], ["or", t("seg.or")]], "and", { name: "combinator" });
  const list = h("div", { id: "conditions" });
  const count = h("div", { class: "bigcount", id: "live-count", "aria-live": "polite", text: "—" });
  const countNote = h("div", { "aria-live": "polite", id: "count-status" });
  const sample = h("div", { id: "sample" });
  const json = h("pre", { class: "json", id: "definition-json" });

  function definition() {
    const conds = rows.filter((r) => r.node.isConnected).map((r) => r.condition());
    if (conds.length === 0) return null;
    return conds.length === 1 ? conds[0] : { type: combinator.value, conditions: conds };
  }
  let seq = 0;
  const refresh = debounce(async () => {
    const def = definition();
    json.textContent = def ? JSON.stringify(def, null, 2) : "";
    if (!def) { count.textContent = "—"; clear(countNote).append(empty(t("seg.addOne"))); clear(sample); return; }
    const mine = ++seq;
    clear(countNote).append(h("span", { class: "lede", role: "status", text: t("seg.counting") }));
    try {
      const q = "query($d: JSON!) { segmentPreview(definition: $d, sampleSize: 5) { count sample { id traits { name value masking } } } }";
      const p = (await gql(q, { d: def }, { purpose })).segmentPreview;
      if (mine !== seq) return;
      count.textContent = fmtNum(p.count);
      count.dataset.count = String(p.count);
      count.dataset.definition = JSON.stringify(def);
      clear(countNote).append(h("span", { class: "lede", text: t("seg.people") }));
      clear(sample).append(p.sample.length
        ? table([{ label: t("profile.id"), render: (s) => h("code", { text: s.id }) },
                 { label: t("profile.traits"), render: (s) => s.traits.map((x) => `${x.name}: ${x.value === null ? "∅" : JSON.stringify(x.value)}${x.masking !== "plain" ? ` (${t(`mask.${x.masking}`, {}, x.masking)})` : ""}`).join("; ") }], p.sample)
        : empty(viewer.abilities.includes("profile:read") ? t("seg.nobody") : t("seg.countsOnly")));
    } catch (err) {
      if (mine !== seq) return;
      count.textContent = "—";
      delete count.dataset.count;
      delete count.dataset.definition;
      const issues = (err.extensions && err.extensions.issues) || [];
      clear(countNote).append(errorBox(err), issues.length ? h("ul", {}, issues.map((i) => h("li", {}, h("code", { text: i.path }), ` ${i.message}`))) : null);
    }
  }, 350);

  function add(init) {
    const r = conditionRow(vocab, saved, refresh, refresh, init);
    rows.push(r); list.append(r.node); refresh();
  }
  combinator.addEventListener("change", refresh);
  const addBtn = h("button", { type: "button", class: "secondary", id: "add-condition", text: t("seg.add"), onclick: () => add() });

  const builder = h("section", { class: "panel", "aria-labelledby": "builder-title" }, h("h2", { id: "builder-title", text: t("seg.builder") }),
    field(t("seg.match"), combinator), list, h("div", { class: "actions" }, addBtn));
  const result = h("section", { class: "panel", "aria-labelledby": "count-title" }, h("h2", { id: "count-title", text: t("seg.liveCount") }),
    count, countNote, h("h3", { text: t("seg.sample") }), sample, h("details", {}, h("summary", { text: t("seg.json") }), json));
  out.append(h("div", { class: "grid" }, builder, result));

  if (canWrite) {
    const name = h("input", { name: "segname", required: true, size: 24 });
    const realtime = h("input", { type: "checkbox", name: "realtime" });
    const save = h("button", { type: "submit", text: t("seg.save") });
    const st = h("div", { "aria-live": "polite" });
    const form = h("form", { class: "filters" }, field(t("seg.segName"), name), h("label", { class: "field" }, h("span", { text: t("seg.realtime") }), realtime), save);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const def = definition();
      if (!name.value.trim() || !def) { clear(st).append(h("div", { class: "state error", role: "alert", text: t("seg.needName") })); return; }
      await busy(save, st, t("loading"), async () => {
        try {
          const s = (await gql("mutation($n: String!, $d: JSON!, $r: Boolean!) { saveSegment(name: $n, definition: $d, realtime: $r) { id name } }",
                               { n: name.value.trim(), d: def, r: realtime.checked }, { purpose })).saveSegment;
          clear(st).append(h("div", { class: "state ok", role: "status", text: t("seg.saved", { name: s.name, id: s.id }) }));
          loadSaved();
        } catch (err) { clear(st).append(errorBox(err)); }
      });
    });
    out.append(h("section", { class: "panel" }, h("h2", { text: t("seg.saveTitle") }), form, st));
  }

  const savedBox = h("section", { class: "panel", "aria-labelledby": "saved-title" }, h("h2", { id: "saved-title", text: t("seg.savedTitle") }));
  const savedList = h("div");
  const chartBox = h("div", { class: "chart-box", hidden: true }, h("canvas", { id: "size-chart", role: "img", "aria-label": t("seg.sizeOverTime") }));
  savedBox.append(savedList, chartBox);
  out.append(savedBox);
  let chart = null;

  async function sizes(s, btn) {
    await busy(btn, null, null, async () => {
      try {
        const times = Array.from({ length: 12 }, (_, i) => new Date(Date.now() - (11 - i) * 7 * 86400000).toISOString());
        const pts = (await gql("query($id: String!, $t: [DateTime!]!) { segmentSizes(id: $id, times: $t) { at size } }", { id: s.id, t: times }, { purpose })).segmentSizes;
        chartBox.hidden = false;
        if (chart) chart.destroy();
        chart = lineChart(chartBox.querySelector("canvas"), pts.map((p) => fmtDay(p.at)), [{ label: `${s.name} — ${t("seg.size")}`, data: pts.map((p) => p.size) }]);
      } catch (err) { savedList.prepend(errorBox(err)); }
    });
  }
  async function evaluate(s, btn) {
    await busy(btn, null, null, async () => {
      try {
        const r = (await gql("mutation($id: String!) { evaluateSegment(id: $id) { entered left size } }", { id: s.id }, { purpose })).evaluateSegment;
        toast(t("seg.evaluated", { size: r.size, entered: r.entered, left: r.left }));
        loadSaved();
      } catch (err) { savedList.prepend(errorBox(err)); }
    });
  }
  async function loadSaved() {
    try { saved = (await gql("{ segments { id name definition realtime lastEvaluatedAt } }", {}, { purpose })).segments; } catch (err) { clear(savedList).append(errorBox(err)); return; }
    clear(savedList).append(table([
      { label: t("seg.segName"), key: "name" },
      { label: t("seg.realtime"), render: (s) => (s.realtime ? badge(t("yes"), "ok") : t("no")) },
      { label: t("seg.lastEvaluated"), render: (s) => fmtDate(s.lastEvaluatedAt) },
      { label: t("dsr.actions"), render: (s) => h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", text: t("seg.sizeOverTime"), "aria-label": `${t("seg.sizeOverTime")}: ${s.name}`, onclick: (e) => sizes(s, e.currentTarget) }),
        canWrite ? h("button", { type: "button", class: "secondary", text: t("seg.evaluate"), "aria-label": `${t("seg.evaluate")}: ${s.name}`, onclick: (e) => evaluate(s, e.currentTarget) }) : null) },
    ], saved, { empty: t("seg.noSaved") }));
  }
  loadSaved();
  add({ type: "purchase" });
  return () => { if (chart) chart.destroy(); };
}
