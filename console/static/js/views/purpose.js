// The purpose picker: every read declares why; the API's consent gate and masking follow from it.
import { t } from "../i18n.js";
import { field, select } from "../ui.js";

export const PURPOSES = ["support", "analytics", "marketing", "personalization", "security", "legal_obligation", "sale", "ads"];

export function purposePicker(value) {
  const s = select(PURPOSES.map((p) => [p, t(`purpose.${p}`)]), value, { name: "purpose" });
  return { node: field(t("purpose.label"), s, t("purpose.hint")), select: s };
}
