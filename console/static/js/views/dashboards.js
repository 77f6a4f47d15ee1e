// KPI dashboards: AOV by tier and stage, repeat rate, cohort retention heatmap, NASLD transitions,
// stage revenue, attribution and ROAS. Suppressed cells (k-anonymity, decided by the API) show as such.
import { gql } from "../api.js";
import { t } from "../i18n.js";
import { clear, errorBox, field, fmtNum, fmtPct, h, loading, select, table } from "../ui.js";
import { barChart, doughnutChart, heat } from "./charts.js";

const ROW = "key campaign customers orders revenue value cost suppressed";

function supp() { return h("span", { class: "suppressed", title: t("dash.suppressedHint"), text: t("dash.suppressed") }); }
function num(r, k, digits = 0) { return r.suppressed || r[k] === null ? supp() : fmtNum(r[k], digits); }

function panel(title, id) {
  const body = h("div", { id }, loading());
  return { node: h("section", { class: "panel", "aria-labelledby": `${id}-t` }, h("h2", { id: `${id}-t`, text: title }), body), body };
}

function canvasBox(label) {
  const c = h("canvas", { role: "img", "aria-label": label });
  return { box: h("div", { class: "chart-box" }, c), canvas: c };
}

export async function render(main, { purpose }) {
  main.append(h("h1", { text: t("nav.dashboards") }), h("p", { class: "lede", text: t("dash.lede") }));
  const period = select([[30, t("dash.days", { n: 30 })], [90, t("dash.days", { n: 90 })], [180, t("dash.days", { n: 180 })], [365, t("dash.days", { n: 365 })]], 365, { name: "period" });
  const model = select([["last_click", t("dash.model.last_click")], ["first_click", t("dash.model.first_click")], ["linear", t("dash.model.linear")]], "last_click", { name: "model" });
  const controls = h("form", { class: "filters", "aria-label": t("dash.controls") }, field(t("dash.period"), period), field(t("dash.attrModel"), model));
  main.append(h("section", { class: "panel" }, controls));
  const cards = h("div", { class: "cards", id: "kpi-cards" });
  const tier = panel(t("dash.aovTier"), "aov-tier");
  const stage = panel(t("dash.aovStage"), "aov-stage");
  const cohorts = panel(t("dash.cohorts"), "cohorts");
  const trans = panel(t("dash.transitions"), "transitions");
  const stageRev = panel(t("dash.stageRevenue"), "stage-revenue");
  const attr = panel(t("dash.attribution"), "attribution");
  main.append(cards, h("div", { class: "grid" }, tier.node, stage.node), cohorts.node, h("div", { class: "grid" }, trans.node, stageRev.node), attr.node);
  let charts = [];

  function aovPanel(p, rows) {
    clear(p.body);
    const visible = rows.filter((r) => !r.suppressed && r.value !== null);
    if (visible.length) {
      const c = canvasBox(p.node.querySelector("h2").textContent);
      p.body.append(c.box);
      charts.push(barChart(c.canvas, visible.map((r) => r.key), [{ label: t("dash.aov"), data: visible.map((r) => r.value) }]));
    }
    p.body.append(table([{ label: t("dash.group"), key: "key" }, { label: t("dash.customers"), render: (r) => num(r, "customers"), num: true },
                         { label: t("dash.orders"), render: (r) => num(r, "orders"), num: true }, { label: t("dash.revenue"), render: (r) => num(r, "revenue"), num: true },
                         { label: t("dash.aov"), render: (r) => num(r, "value", 1), num: true }], rows, { empty: t("dash.noData") }));
  }

  async function load() {
    charts.forEach((c) => c.destroy()); charts = [];
    const until = new Date();
    const since = new Date(until.getTime() - Number(period.value) * 86400000);
    const vars = { s: since.toISOString(), u: until.toISOString() };
    clear(cards);
    [tier, stage, cohorts, trans, stageRev, attr].forEach((p) => clear(p.body).append(loading()));

    gql(`query($s: DateTime!, $u: DateTime!) { kpis(since: $s, until: $u, cohortMonths: 6) {
          aovByTier { ${ROW} } aovByStage { ${ROW} } buyers repeatBuyers repeatPurchaseRate cohorts { month size retention suppressed } } }`, vars, { purpose })
      .then(({ kpis: k }) => {
        cards.append(card(t("dash.buyers"), fmtNum(k.buyers)), card(t("dash.repeatBuyers"), k.repeatBuyers === null ? supp() : fmtNum(k.repeatBuyers)),
                     card(t("dash.repeatRate"), k.repeatPurchaseRate === null ? supp() : fmtPct(k.repeatPurchaseRate)));
        aovPanel(tier, k.aovByTier);
        aovPanel(stage, k.aovByStage);
        clear(cohorts.body);
        const width = Math.max(0, ...k.cohorts.map((c) => (c.retention || []).length));
        if (!k.cohorts.length) { cohorts.body.append(table([], [], { empty: t("dash.noData") })); return; }
        const head = h("tr", {}, h("th", { scope: "col", text: t("dash.cohort") }), h("th", { scope: "col", class: "num", text: t("dash.size") }),
          Array.from({ length: width }, (_, i) => h("th", { scope: "col", class: "num", text: t("dash.monthN", { n: i }) })));
        const body = k.cohorts.map((c) => h("tr", {}, h("th", { scope: "row", text: c.month }), h("td", { class: "num" }, c.suppressed || c.size === null ? supp() : fmtNum(c.size)),
          Array.from({ length: width }, (_, i) => {
            const td = h("td", { class: "cell" });
            if (c.suppressed || !c.retention) td.append(supp());
            else if (i < c.retention.length) { td.textContent = fmtPct(c.retention[i]); heat(td, c.retention[i]); }
            return td;
          })));
        cohorts.body.append(h("div", { class: "table-wrap" }, h("table", { class: "heat" }, h("caption", { class: "visually-hidden", text: t("dash.cohorts") }), h("thead", {}, head), h("tbody", {}, body))));
      })
      .catch((err) => { cards.append(errorBox(err)); [tier, stage, cohorts].forEach((p) => clear(p.body).append(errorBox(err))); });

    gql("{ stageTransitions { fromMonth toMonth stages counts } }", {}, { purpose })
      .then(({ stageTransitions: s }) => {
        clear(trans.body).append(h("p", { class: "lede", text: t("dash.transFromTo", { from: s.fromMonth, to: s.toMonth }) }));
        const rowsLabels = [...s.stages, t("dash.newPeople")];
        const total = Math.max(1, ...s.counts.flat().filter((x) => x !== null));
        const head = h("tr", {}, h("th", { scope: "col", text: `${s.fromMonth} → ${s.toMonth}` }), s.stages.map((x) => h("th", { scope: "col", class: "num", text: t(`stage.${x}`, {}, x) })));
        const body = s.counts.map((row, i) => h("tr", {}, h("th", { scope: "row", text: t(`stage.${rowsLabels[i]}`, {}, rowsLabels[i]) }), row.map((v) => {
          const td = h("td", { class: "cell" });
          if (v === null) td.append(supp()); else { td.textContent = fmtNum(v); heat(td, v / total); }
          return td;
        })));
        trans.body.append(h("div", { class: "table-wrap" }, h("table", { class: "heat" }, h("thead", {}, head), h("tbody", {}, body))));
      })
      .catch((err) => clear(trans.body).append(errorBox(err)));

    gql(`query($s: DateTime!, $u: DateTime!) { stageRevenue(since: $s, until: $u) { ${ROW} } }`, vars, { purpose })
      .then(({ stageRevenue: rows }) => {
        clear(stageRev.body);
        const visible = rows.filter((r) => !r.suppressed && r.revenue);
        if (visible.length) {
          const c = canvasBox(t("dash.stageRevenue"));
          stageRev.body.append(c.box);
          charts.push(doughnutChart(c.canvas, visible.map((r) => t(`stage.${r.key}`, {}, r.key)), visible.map((r) => r.revenue)));
        }
        stageRev.body.append(table([{ label: t("dash.stage"), render: (r) => t(`stage.${r.key}`, {}, r.key) }, { label: t("dash.revenue"), render: (r) => num(r, "revenue"), num: true },
                                    { label: t("dash.share"), render: (r) => (r.suppressed || r.value === null ? supp() : fmtPct(r.value)), num: true }], rows, { empty: t("dash.noData") }));
      })
      .catch((err) => clear(stageRev.body).append(errorBox(err)));

    gql(`query($s: DateTime!, $u: DateTime!, $m: String) { attribution(since: $s, until: $u, model: $m) { model orders totalRevenue veilRevenue veilShare channels { ${ROW} } campaigns { ${ROW} } } }`,
        { ...vars, m: model.value }, { purpose })
      .then(({ attribution: a }) => {
        clear(attr.body).append(h("div", { class: "cards" }, card(t("dash.orders"), fmtNum(a.orders)), card(t("dash.revenue"), fmtNum(a.totalRevenue)),
                                                             card(t("dash.veilShare"), fmtPct(a.veilShare))));
        const visible = a.channels.filter((r) => !r.suppressed && r.revenue !== null);
        if (visible.length) {
          const c = canvasBox(t("dash.byChannel"));
          attr.body.append(c.box);
          charts.push(barChart(c.canvas, visible.map((r) => r.key), [{ label: t("dash.revenue"), data: visible.map((r) => r.revenue) }]));
        }
        const cols = [{ label: t("dash.channel"), key: "key" }, { label: t("dash.campaign"), key: "campaign" }, { label: t("dash.orders"), render: (r) => num(r, "orders", 1), num: true },
                      { label: t("dash.revenue"), render: (r) => num(r, "revenue"), num: true }, { label: t("dash.cost"), render: (r) => (r.cost === null ? "—" : fmtNum(r.cost)), num: true },
                      { label: t("dash.roas"), render: (r) => (r.suppressed ? supp() : r.value === null ? "—" : fmtNum(r.value, 2)), num: true }];
        attr.body.append(h("h3", { text: t("dash.byChannel") }), table(cols, a.channels, { empty: t("dash.noData") }),
                         h("h3", { text: t("dash.byCampaign") }), table(cols, a.campaigns, { empty: t("dash.noData") }));
      })
      .catch((err) => clear(attr.body).append(errorBox(err)));
  }
  period.addEventListener("change", load);
  model.addEventListener("change", load);
  load();
  return () => charts.forEach((c) => c.destroy());
}

function card(label, value) {
  return h("div", { class: "card" }, h("div", { class: "label", text: label }), h("div", { class: "value" }, value));
}
