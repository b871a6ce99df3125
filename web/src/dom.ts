// Small DOM helpers: h() builds elements, the rest are conveniences.

type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, unknown> & {
  class?: string;
  style?: string;
  dataset?: Record<string, string>;
};

/** h("button.primary", {onclick}, "Save") builds <button class="primary">. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K | `${K}.${string}`, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name as K);
  if (classes.length) el.className = classes.join(" ");
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") el.className = [el.className, v as string].filter(Boolean).join(" ");
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v as EventListener);
      else if (k in el && k !== "list" && k !== "form" && typeof v !== "string") (el as unknown as Record<string, unknown>)[k] = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else parent.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces el's children. */
export function render(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

export function icon(name: keyof typeof ICONS): SVGSVGElement {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.classList.add("icon");
  svg.innerHTML = ICONS[name];
  return svg;
}

const stroke = (d: string) => `<path d="${d}" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/>`;
export const ICONS = {
  play: stroke("M7 4v16l13-8z"),
  stop: stroke("M6 6h12v12H6z"),
  restart: stroke("M3 12a9 9 0 1 0 3-6.7M3 4v5h5"),
  pip: stroke("M3 5h18v14H3zM12 12h7v5h-7z"),
  fullscreen: stroke("M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5"),
  copy: stroke("M9 9h11v11H9zM5 15H4V4h11v1"),
  plus: stroke("M12 5v14M5 12h14"),
  trash: stroke("M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3"),
  edit: stroke("M4 20h4L19 9l-4-4L4 16zM14 6l4 4"),
  link: stroke("M10 14a4 4 0 0 0 6 0l3-3a4 4 0 0 0-6-6l-1 1M14 10a4 4 0 0 0-6 0l-3 3a4 4 0 0 0 6 6l1-1"),
  wand: stroke("M4 20L16 8M14 4v2M19 9h2M18 4l-1.5 1.5M12 2v1"),
  grid1: stroke("M4 4h16v16H4z"),
  grid4: stroke("M4 4h7v7H4zM13 4h7v7h-7zM4 13h7v7H4zM13 13h7v7h-7z"),
  left: stroke("M15 5l-7 7 7 7"),
  right: stroke("M9 5l7 7-7 7"),
  search: stroke("M11 18a7 7 0 1 1 0-14 7 7 0 0 1 0 14zM20 20l-4-4"),
  close: stroke("M6 6l12 12M18 6L6 18"),
} as const;

export function fmtDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${mm}m`;
  if (mm) return `${mm}m ${ss}s`;
  return `${ss}s`;
}

/** Copies text, falling back to a hidden textarea where the Clipboard API is not allowed (plain http on a LAN address). */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = h("textarea", { style: "position:fixed;opacity:0;top:0;left:0" }, text);
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch { ok = false; }
    ta.remove();
    return ok;
  }
}

let toastHost: HTMLElement | null = null;
export function toast(text: string, kind: "ok" | "error" = "ok"): void {
  if (!toastHost) {
    toastHost = h("div.toasts", { role: "status", "aria-live": "polite" });
    document.body.appendChild(toastHost);
  }
  const t = h("div.toast", { class: kind }, text);
  toastHost.appendChild(t);
  setTimeout(() => t.classList.add("leaving"), 3200);
  setTimeout(() => t.remove(), 3600);
}

/** A modal dialog; returns the dialog and a close function. */
export function modal(title: string, body: Node, opts: { wide?: boolean; testid?: string; onClose?: () => void } = {}): { dialog: HTMLDialogElement; close: () => void } {
  const dialog = h("dialog.modal", { class: opts.wide ? "wide" : "", dataset: { testid: opts.testid ?? "modal" } });
  const close = () => {
    dialog.close();
  };
  dialog.addEventListener("close", () => {
    dialog.remove();
    opts.onClose?.();
  });
  append(dialog, [
    h("header.modal-head", null, h("h2", null, title), h("button.icon-btn", { type: "button", title: "Close", "aria-label": "Close", onclick: close }, icon("close"))),
    h("div.modal-body", null, body),
  ]);
  document.body.appendChild(dialog);
  dialog.showModal();
  return { dialog, close };
}
