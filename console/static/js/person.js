// "Which person?": any identifier (email, phone, member id...) or a profile id -> profile id.
import { gql } from "./api.js";
import { t } from "./i18n.js";
import { busy, clear, empty, errorBox, field, h, select } from "./ui.js";
import { purposePicker } from "./views/purpose.js";

const TYPES = ["email", "phone", "member_id", "user_id", "line_user_id", "profile_id"];

export function personInput(initial = {}) {
  const type = select(TYPES.map((x) => [x, t(`idtype.${x}`)]), initial.type || "email", { name: "idtype" });
  const value = h("input", { name: "idvalue", type: "text", value: initial.value || "", autocomplete: "off", size: 28 });
  const examples = { email: "amy@example.com", phone: "0912-345-678", member_id: "M0000001", user_id: "M0000001",
                     line_user_id: "U4af4980629...", profile_id: "3f1c…-…" };
  const hint = () => { value.placeholder = examples[type.value] || ""; };
  type.addEventListener("change", hint);
  hint();
  return {
    nodes: [field(t("person.type"), type), field(t("person.value"), value)],
    type, value,
    filled() { return value.value.trim() !== ""; },
    state() { return { type: type.value, value: value.value.trim() }; },
  };
}

// The lookup is a profile read like any other: authorized, consent-gated and audited by the API.
export async function resolvePerson({ type, value }, purpose) {
  if (type === "profile_id") return value;
  const q = "query($t: String!, $v: String!, $p: Purpose) { profileByIdentifier(type: $t, value: $v, purpose: $p) { id } }";
  const data = await gql(q, { t: type, v: value, p: purpose }, { purpose });
  return data.profileByIdentifier.id;
}

// A screen about one person: title, the person (and optionally purpose) form, and a result area
// that `load({ person, purpose })` fills with nodes; loading, empty and error states included.
export function personScreen(main, { params, title, lede, resultsId, submitLabel, purpose, pickPurpose, load }) {
  main.append(h("h1", { text: title }), h("p", { class: "lede", text: lede }));
  const person = personInput({ type: params.get("type") || "email", value: params.get("value") || "" });
  const pp = pickPurpose ? purposePicker(purpose) : null;
  const go = h("button", { type: "submit", text: submitLabel || t("search") });
  const form = h("form", { class: "filters", role: "search", "aria-label": title }, person.nodes, pp ? pp.node : null, go);
  const out = h("div", { "aria-live": "polite", id: resultsId }, empty(t("who.start")));
  main.append(h("section", { class: "panel" }, form), out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!person.filled()) { clear(out).append(empty(t("who.start"))); return; }
    await busy(go, out, t("loading"), async () => {
      try {
        const nodes = await load({ person: person.state(), purpose: pp ? pp.select.value : purpose });
        clear(out).append(...nodes);
      } catch (err) { clear(out).append(errorBox(err)); }
    });
  });
  if (person.filled()) form.requestSubmit();
}
