// "Which person?": any identifier (email, phone, member id...) or a profile id -> profile id.
import { gql } from "./api.js";
import { t } from "./i18n.js";
import { field, h, select } from "./ui.js";

const TYPES = ["email", "phone", "member_id", "user_id", "line_user_id", "profile_id"];

export function personInput(initial = {}) {
  const type = select(TYPES.map((x) => [x, t(`idtype.${x}`)]), initial.type || "email", { name: "idtype" });
  const value = h("input", { name: "idvalue", type: "text", value: initial.value || "", autocomplete: "off",
                            placeholder: "amy@example.com", size: 28 });
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
