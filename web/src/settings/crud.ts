// Helpers the inventory cards (cameras, pipelines, processing servers)
// share: their card and table frame, delete confirmation, text inputs and
// write-only passwords.
import { errorText, isMissing, type EndpointDraft } from "../api";
import { h, icon, modal, render, toast } from "../dom";
import { checkbox, field, FormErrors } from "../forms";
import { poll } from "../poll";

/** The event dispatched on document after cameras change, so camera lists (the wizard's) refresh. */
export const CAMERAS_CHANGED = "toposync:cameras-changed";

/** What a card shows when its list cannot be loaded (the server lacks the endpoint, or it failed). */
export function unavailable(what: string, err: unknown): HTMLElement {
  return h("div.empty.small", { dataset: { testid: `${what.replace(/ /g, "-")}-unavailable` } },
    isMissing(err) ? `${what[0].toUpperCase()}${what.slice(1)} are not available on this server.` : `Could not load ${what}: ${errorText(err)}`);
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

export interface ListCard { el: HTMLElement; refresh: () => void; stop: () => void }

/**
 * listCard is a card that polls its list every intervalMs (and at once on
 * refresh): draw() renders the items, a failed fetch says "not available"
 * or why. add, when given, is the header's "add" button, called with refresh.
 */
export function listCard<T>(opts: {
  title: string; testid: string; what: string; intervalMs: number;
  fetch: () => Promise<T[]>; draw: (items: T[], refresh: () => void) => HTMLElement;
  add?: { label: string; testid: string; onclick: (refresh: () => void) => void };
}): ListCard {
  const body = h("div.inv-body", { dataset: { testid: opts.testid } }, h("p.muted", null, "Loading…"));
  const p = poll(async () => {
    let items: T[];
    try {
      items = await opts.fetch();
    } catch (err) {
      render(body, unavailable(opts.what, err));
      return;
    }
    render(body, opts.draw(items, p.now));
  }, opts.intervalMs);
  const add = opts.add;
  const el = h("section.card", null,
    h("header.card-head", null, h("h2", null, opts.title),
      add ? h("button.btn.primary", { type: "button", dataset: { testid: add.testid }, onclick: () => add.onclick(p.now) }, icon("plus"), add.label) : null),
    body);
  return { el, refresh: p.now, stop: p.stop };
}

/**
 * submitForm sends form with run() on submit: refusals go to their fields
 * (FormErrors), success toasts run()'s message, closes the dialog and calls done.
 */
export function submitForm(form: HTMLFormElement, banner: HTMLElement, save: HTMLButtonElement, run: () => Promise<string>, close: () => void, done: () => void): FormErrors {
  const errors = new FormErrors(form, banner);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    errors.clear();
    save.disabled = true;
    try {
      toast(await run());
      close();
      done();
    } catch (err) {
      errors.show(err);
    } finally {
      save.disabled = false;
    }
  });
  return errors;
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

/**
 * endpointFields are the form rows of a camera's or processing server's
 * id, name, URL and login (kind names the testids:
 * "<kind>-name-input", "<kind>-url", "<kind>-username"); the id is fixed
 * once stored. members() reads them back as a body.
 */
export function endpointFields(kind: string, existing: { id: string; name: string; url: string; username: string | null; password_set: boolean } | null,
  hints: { name: string; url: string; urlHint: string; idHint: string }): { name: HTMLInputElement; el: HTMLElement[]; members: () => EndpointDraft } {
  const name = textInput(existing?.name ?? "", { placeholder: hints.name, dataset: { testid: `${kind}-name-input` } });
  const id = textInput(existing?.id ?? "", { placeholder: "from the name", disabled: !!existing });
  const url = textInput(existing?.url ?? "", { placeholder: hints.url, dataset: { testid: `${kind}-url` } });
  const username = textInput(existing?.username ?? "", { dataset: { testid: `${kind}-username` } });
  const password = secretFields(!!existing?.password_set);
  return {
    name,
    el: [
      h("div.grid2", null, field("Name", name, "name"), field("Id", id, "id", existing ? "The id cannot change." : hints.idHint)),
      field("URL", url, "url", hints.urlHint),
      h("div.grid2", null, field("Username", username, "username"), password.el),
    ],
    members: () => {
      const m: EndpointDraft = { name: name.value.trim(), url: url.value.trim(), username: orNull(username.value) };
      const idValue = existing?.id ?? orNull(id.value);
      if (idValue) m.id = idValue;
      const pw = password.value();
      if (pw !== undefined) m.password = pw; // left out: the stored one is kept
      return m;
    },
  };
}

/** "" → null, for optional text members. */
export const orNull = (s: string): string | null => (s.trim() === "" ? null : s.trim());
