// Helpers the inventory cards (cameras, pipelines, processing servers)
// share: their card and table frame, delete confirmation, text inputs and
// write-only passwords.
import { errorText, isMissing } from "../api";
import { h, icon, modal, render, toast } from "../dom";
import { checkbox, field } from "../forms";

/** The event dispatched on document after cameras change, so camera lists (the wizard's) refresh. */
export const CAMERAS_CHANGED = "toposync:cameras-changed";

/** What a card shows when its list cannot be loaded (the server lacks the endpoint, or it failed). */
export function unavailable(what: string, err: unknown): HTMLElement {
  return h("div.empty.small", { dataset: { testid: `${what}-unavailable` } },
    isMissing(err) ? `${what[0].toUpperCase()}${what.slice(1)} are not available on this server.` : `Could not load ${what}: ${errorText(err)}`);
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** A card: its title, an optional "add" button and its body. */
export function card(title: string, body: HTMLElement, add?: { label: string; testid: string; onclick: () => void }): HTMLElement {
  return h("section.card", null,
    h("header.card-head", null, h("h2", null, title),
      add ? h("button.btn.primary", { type: "button", dataset: { testid: add.testid }, onclick: add.onclick }, icon("plus"), add.label) : null),
    body);
}

/** A table inside its horizontal scroller. */
export function table(heads: string[], rows: HTMLElement[]): HTMLElement {
  return h("div.table-wrap", null, h("table.table", null,
    h("thead", null, h("tr", null, heads.map((t) => h("th", null, t)))),
    h("tbody", null, rows)));
}

/** The Edit and Delete buttons of a row. */
export function rowActions(what: string, onEdit: (() => void) | null, onDelete: () => void, ...more: HTMLElement[]): HTMLElement {
  return h("td.row-actions", null, ...more,
    onEdit ? h("button.btn.ghost", { type: "button", title: `Edit ${what}`, dataset: { testid: "row-edit" }, onclick: onEdit }, icon("edit"), "Edit") : null,
    h("button.btn.ghost.danger", { type: "button", title: `Delete ${what}`, "aria-label": `Delete ${what}`, dataset: { testid: "row-delete" }, onclick: onDelete }, icon("trash")));
}

/**
 * confirmDelete asks before run() deletes `name`; a refusal (409: still in
 * use) stays in the dialog, in full, so the user sees what to change first.
 */
export function confirmDelete(kind: string, name: string, consequence: string, run: () => Promise<unknown>, done: () => void): void {
  const yes = h("button.btn.danger", { type: "button", dataset: { testid: "confirm-delete" } }, "Delete");
  const no = h("button.btn", { type: "button", dataset: { testid: "cancel-delete" } }, "Cancel");
  const refusal = h("div.notes.error", { hidden: true, role: "alert", dataset: { testid: "delete-error" } });
  const m = modal(`Delete ${kind}`, h("div", { dataset: { testid: "delete-confirm" } },
    h("p", null, "Delete ", h("strong", null, name), `? ${consequence}`),
    refusal,
    h("div.actions.end", null, no, yes)));
  no.onclick = m.close;
  yes.onclick = async () => {
    yes.disabled = true;
    try {
      await run();
      toast(`Deleted ${name}`);
      m.close();
      done();
    } catch (err) {
      render(refusal, `${name} cannot be deleted: ${errorText(err)}`);
      refusal.hidden = false;
      yes.disabled = false;
    }
  };
}

/** A text input whose value is read back with .value. */
export function textInput(value: string, attrs: Record<string, unknown> = {}): HTMLInputElement {
  return h("input", { type: "text", value, spellcheck: false, autocomplete: "off", ...attrs });
}

/**
 * secretFields is a write-only password: never shown; when one is stored
 * it says so and keeps it unless a new one is typed or "clear" is ticked.
 * value() is what a body's "password" member gets: undefined (leave the
 * member out: keep), null (clear) or the new password.
 */
export function secretFields(stored: boolean): { el: HTMLElement; value: () => string | null | undefined } {
  const input = h("input", { type: "password", autocomplete: "new-password", placeholder: stored ? "password set: leave empty to keep it" : "", dataset: { testid: "password" } });
  let clear = false;
  const clearBox = stored ? checkbox("Clear the stored password", false, "password_clear", (v) => { clear = v; input.disabled = v }) : null;
  return {
    el: h("div", null, field(stored ? "Password (set)" : "Password", input, "password", stored ? "The stored password is never shown." : undefined), clearBox),
    value: () => (clear ? null : input.value !== "" ? input.value : stored ? undefined : null),
  };
}

/** "" → null, for optional text members. */
export const orNull = (s: string): string | null => (s.trim() === "" ? null : s.trim());
