// Ingestion health: counters of this API process (rates from successive polls), stores and audit head.
import { gql } from "../api.js";
import { t } from "../i18n.js";
import { badge, clear, errorBox, fmtNum, h, loading } from "../ui.js";
import { lineChart } from "./charts.js";

const Q = "{ ingestionHealth { eventsStored eventsDuplicate eventsRejected throttled merges ingestRequests ingestSecondsSum profilesActive profilesMerged auditHeadSeq neo4jReachable schemaVersion schemaExpected } }";

export async function render(main, { purpose }) {
  main.append(h("h1", { text: t("nav.health") }), h("p", { class: "lede", text: t("health.lede") }));
  const cards = h("div", { class: "cards", id: "health-cards", "aria-live": "polite" }, loading());
  const canvas = h("canvas", { role: "img", "aria-label": t("health.rateChart") });
  const waiting = h("p", { class: "lede", role: "status", text: t("health.collecting") });
  main.append(cards, h("section", { class: "panel" }, h("h2", { text: t("health.rateChart") }), waiting, h("div", { class: "chart-box" }, canvas)),
              h("section", { class: "panel" }, h("h2", { text: t("health.notes") }), h("p", { class: "lede", text: t("health.logNote") })));
  const labels = [];
  const rates = [];
  let chart = null;
  let prev = null;
  let timer = null;

  async function poll() {
    try {
      const x = (await gql(Q, {}, { purpose })).ingestionHealth;
      const now = Date.now();
      let rate = null;
      if (prev) rate = Math.max(0, (x.eventsStored - prev.x.eventsStored) / ((now - prev.at) / 1000));
      prev = { x, at: now };
      const latency = x.ingestRequests ? (x.ingestSecondsSum / x.ingestRequests) * 1000 : null;
      const schemaOk = x.schemaVersion === x.schemaExpected;
      clear(cards).append(
        card(t("health.rate"), rate === null ? "…" : `${fmtNum(rate, 1)}/s`),
        card(t("health.stored"), fmtNum(x.eventsStored)), card(t("health.rejected"), fmtNum(x.eventsRejected)),
        card(t("health.duplicates"), fmtNum(x.eventsDuplicate)), card(t("health.throttled"), fmtNum(x.throttled)),
        card(t("health.latency"), latency === null ? "—" : `${fmtNum(latency, 1)} ms`),
        card(t("health.profiles"), fmtNum(x.profilesActive)), card(t("health.merged"), fmtNum(x.profilesMerged)),
        card(t("health.neo4j"), badge(x.neo4jReachable ? t("health.up") : t("health.down"), x.neo4jReachable ? "ok" : "bad")),
        card(t("health.schema"), badge(`${x.schemaVersion ?? "?"} / ${x.schemaExpected}`, schemaOk ? "ok" : "bad")),
        card(t("health.auditHead"), x.auditHeadSeq === null ? "—" : fmtNum(x.auditHeadSeq)));
      if (rate !== null) {
        labels.push(new Date(now).toLocaleTimeString()); rates.push(rate);
        if (labels.length > 60) { labels.shift(); rates.shift(); }
        waiting.hidden = true;
        if (!chart) chart = lineChart(canvas, labels, [{ label: t("health.rate"), data: rates }]);
        else chart.update();
      }
    } catch (err) { clear(cards).append(errorBox(err)); }
  }
  await poll();
  timer = setInterval(poll, 5000);
  return () => { clearInterval(timer); if (chart) chart.destroy(); };
}

function card(label, value) {
  return h("div", { class: "card" }, h("div", { class: "label", text: label }), h("div", { class: "value" }, value));
}
