// The Settings panel: engine, engine settings, transmissions, cameras and pipelines.
import { api, errorText } from "../api";
import { h, render } from "../dom";
import { encodersCard } from "./encoders";
import { engineCard, engineForm } from "./engine";
import { inventory } from "./inventory";
import { TransmissionsSection } from "./transmissions";

export function mountSettings(root: HTMLElement): () => void {
  const card = engineCard(() => {});
  const encoders = encodersCard();
  const formSlot = h("div", null, h("section.card", null, h("p.muted", null, "Loading engine settings…")));
  const tx = new TransmissionsSection();
  const inv = inventory();
  render(root,
    h("div.settings", { dataset: { testid: "settings" } },
      h("div.settings-side", null, card.el, encoders.el, formSlot),
      h("div.settings-main", null, tx.el, inv.el),
    ),
  );
  api.settings().then(
    (s) => render(formSlot, engineForm(s.engine, () => {})),
    (err) => render(formSlot, h("section.card", null, h("div.notes.error", null, `Could not load settings: ${errorText(err)}`))),
  );
  return () => {
    card.stop();
    encoders.stop();
    inv.stop();
  };
}
