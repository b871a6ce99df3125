// Form fields that can show the server's errors next to themselves.
import { ApiError, errorText } from "./api";
import { h } from "./dom";

/**
 * field() wraps a control with its label, an optional hint and an error slot.
 * `path` names the field the way the server's error `loc` does (without
 * "body"), e.g. "outputs.0.fps_limit".
 */
export function field(label: string, control: HTMLElement, path: string, hint?: string, cls = ""): HTMLElement {
  const id = `f-${path.replace(/[^a-z0-9]/gi, "-")}-${Math.random().toString(36).slice(2, 7)}`;
  control.id = id;
  control.setAttribute("name", path);
  return h("div.field", { class: cls, dataset: { field: path } },
    h("label", { for: id }, label),
    control,
    hint ? h("small.hint", null, hint) : null,
    h("small.field-error", { role: "alert" }),
  );
}

export function checkbox(label: string, checked: boolean, path: string, onchange?: (v: boolean) => void): HTMLElement {
  const input = h("input", { type: "checkbox", checked, name: path, onchange: (e: Event) => onchange?.((e.target as HTMLInputElement).checked) });
  return h("div.field.check", { dataset: { field: path } },
    h("label.switch", null, input, h("span.track"), h("span", null, label)),
    h("small.field-error", { role: "alert" }),
  );
}

export function select<T extends string>(value: T, options: [T, string][], onchange: (v: T) => void): HTMLSelectElement {
  return h("select", { onchange: (e: Event) => onchange((e.target as HTMLSelectElement).value as T) },
    options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
}

/** Parses an optional integer input: "" → null, else the number (NaN stays for the server to refuse). */
export function optInt(v: string): number | null {
  const s = v.trim();
  if (s === "") return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : (s as unknown as number); // a non-number goes to the server, which names the field
}

/** Shows a failed request's errors inside form: next to fields, else in the form's top banner. */
export class FormErrors {
  constructor(private form: HTMLElement, private banner: HTMLElement) {
    // Editing a field that was refused clears its error.
    const edited = (e: Event) => {
      const f = (e.target as Element).closest?.(".field.invalid");
      if (!f) return;
      f.classList.remove("invalid");
      const slot = f.querySelector(":scope > .field-error");
      if (slot) slot.textContent = "";
    };
    form.addEventListener("input", edited);
    form.addEventListener("change", edited);
  }

  clear(): void {
    this.banner.replaceChildren();
    this.banner.hidden = true;
    for (const el of this.form.querySelectorAll<HTMLElement>(".field.invalid")) {
      el.classList.remove("invalid");
      const slot = el.querySelector(".field-error");
      if (slot) slot.textContent = "";
    }
  }

  /**
   * show() places err by the loc the server gives: each 422 entry at the
   * field its loc names (or the closest enclosing field), a text detail at
   * the field of its top-level loc; the rest goes to the banner. Messages
   * are never read to find a field. `strip` is the loc prefix to drop.
   */
  show(err: unknown, strip: (string | number)[] = ["body"]): void {
    this.clear();
    const loose: string[] = [];
    const at = (loc: (string | number)[]) => {
      let rest = loc.slice();
      for (const p of strip) if (rest[0] === p) rest = rest.slice(1);
      return rest.map(String);
    };
    if (err instanceof ApiError && err.fieldErrors.length) {
      for (const fe of err.fieldErrors) {
        const loc = at(fe.loc);
        if (!this.place(loc, fe.msg)) loose.push(loc.length ? `${loc.join(".")}: ${fe.msg}` : fe.msg);
      }
    } else {
      const text = errorText(err);
      if (!(err instanceof ApiError && err.loc && this.place(at(err.loc), text))) loose.push(text);
    }
    if (loose.length) {
      this.banner.hidden = false;
      this.banner.append(...loose.map((m) => h("div", null, m)));
    }
    this.form.querySelector<HTMLElement>(".field.invalid input, .field.invalid select, .field.invalid textarea")?.focus();
  }

  private place(loc: string[], msg: string): boolean {
    for (let n = loc.length; n > 0; n--) {
      const el = this.form.querySelector<HTMLElement>(`[data-field="${CSS.escape(loc.slice(0, n).join("."))}"]`);
      if (!el) continue;
      el.classList.add("invalid");
      const slot = el.querySelector(":scope > .field-error");
      if (slot) slot.textContent = slot.textContent ? `${slot.textContent} ${msg}` : msg;
      return true;
    }
    return false;
  }
}
