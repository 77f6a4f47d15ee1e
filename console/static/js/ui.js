// Small DOM helpers: text goes in as text (never innerHTML), so data cannot inject markup.
import { t, lang } from "./i18n.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) { while (el.firstChild) el.firstChild.remove(); return el; }

let uid = 0;
export function field(label, control, hint) {
  if (!control.id) control.id = `f${++uid}`;
  const wrap = h("div", { class: "field" }, h("span", { id: `${control.id}-l` }, h("label", { for: control.id, text: label })), control);
  if (hint) wrap.append(h("small", { class: "lede", text: hint }));
  return wrap;
}

export function select(options, value, attrs = {}) {
  const s = h("select", attrs);
  for (const o of options) {
    const [v, label] = Array.isArray(o) ? o : [o, o];
    const opt = h("option", { value: v, text: label });
    if (String(v) === String(value ?? "")) opt.selected = true;
    s.append(opt);
  }
  return s;
}

export function loading(msg) {
  return h("div", { class: "state loading", role: "status" }, msg || t("loading"), h("div", { class: "progress", "aria-hidden": "true" }, h("div")));
}
export function empty(msg) { return h("div", { class: "state empty", role: "status", text: msg || t("empty") }); }
export function errorBox(err) {
  const code = err && err.code ? err.code : "ERROR";
  const known = t(`err.${code}`, {}, null);
  const reason = err && err.extensions && err.extensions.reason ? ` (${err.extensions.reason})` : "";
  return h("div", { class: "state error", role: "alert" },
    h("strong", { text: known || t("err.generic") }), " ", h("span", { text: `${err && err.message ? err.message : ""}${reason}` }),
    h("span", { class: "visually-hidden", text: ` [${code}]` }), h("code", { class: "errcode", text: ` ${code}` }));
}

export function table(columns, rows, { caption, empty: emptyMsg } = {}) {
  if (!rows || rows.length === 0) return empty(emptyMsg);
  const thead = h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null, text: c.label }))));
  const tbody = h("tbody", {}, rows.map((r) => h("tr", {}, columns.map((c) => {
    const v = c.render ? c.render(r) : r[c.key];
    return h("td", { class: c.num ? "num" : null }, v instanceof Node ? v : (v === null || v === undefined || v === "" ? "—" : String(v)));
  }))));
  return h("div", { class: "table-wrap" }, h("table", {}, caption ? h("caption", { class: "visually-hidden", text: caption }) : null, thead, tbody));
}

export function fmtDate(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(lang() === "zh-Hant" ? "zh-TW" : "en-GB", { dateStyle: "medium", timeStyle: "short" }).format(d);
}
export function fmtDay(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(lang() === "zh-Hant" ? "zh-TW" : "en-GB", { dateStyle: "medium" }).format(d);
}
export function fmtNum(n, digits = 0) {
  if (n === null || n === undefined) return "—";
  return new Intl.NumberFormat(lang() === "zh-Hant" ? "zh-TW" : "en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(n);
}
export function fmtPct(n) { return n === null || n === undefined ? "—" : `${fmtNum(n * 100, 1)}%`; }

export function badge(text, kind) { return h("span", { class: `badge ${kind || ""}`, text }); }

export function toast(msg) {
  const el = document.getElementById("toast");
  el.textContent = msg;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.textContent = ""; }, 5000);
}

export function download(filename, content, mime) {
  const blob = content instanceof Blob ? content : new Blob([content], { type: mime || "text/plain" });
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename, class: "visually-hidden" });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(url); a.remove(); }, 1000);
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

export function isoFromLocal(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export function daysAgo(n) { return new Date(Date.now() - n * 86400000).toISOString(); }

// Run an async action with a button disabled and a progress line, then restore.
export async function busy(button, statusEl, msg, fn) {
  if (button) button.disabled = true;
  if (statusEl) { clear(statusEl); statusEl.append(loading(msg)); }
  try { return await fn(); } finally { if (button) button.disabled = false; }
}

// A long id (UUID) shortened for tables; the whole value stays in the title and for screen readers.
export function shortId(v) {
  if (!v) return "—";
  const text = v.length > 14 ? `${v.slice(0, 8)}…` : v;
  return h("span", { class: "mono id", title: v, "aria-label": v, "data-full": v, text });
}
