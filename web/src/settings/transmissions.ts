// Transmissions: searchable list, editor (create/edit with outputs), URLs
// with copy buttons, delete.
import { api, errorText, isMissing, type Camera, type Output, type Transmission, type URLChange } from "../api";
import { copyText, h, icon, modal, render, toast } from "../dom";
import { checkbox, field, FormErrors, optInt, select } from "../forms";
import { openWizard } from "./wizard";

export function slugify(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/-+/g, "-").replace(/^[-_]+|[-_]+$/g, "");
}

/** A readable output id, unique in the transmission: the protocol, then protocol-2, -3… */
function outputId(protocol: Output["protocol"], taken: Output[]): string {
  const ids = new Set(taken.map((o) => o.id));
  let id: string = protocol;
  for (let n = 2; ids.has(id); n++) id = `${protocol}-${n}`;
  return id;
}

function newOutput(protocol: Output["protocol"] = "hls", taken: Output[] = []): Output {
  return {
    id: outputId(protocol, taken),
    protocol,
    enabled: true,
    resolution: { width: 1280, height: 720 },
    fps_limit: 12,
    bitrate_kbps: null,
    latency_profile: "normal",
    authentication: { enabled: false, username: null, password: null },
  };
}

function newTransmission(): Transmission {
  return {
    id: "",
    name: "Transmission",
    path: "transmission",
    enabled: true,
    host_server_id: "local",
    placeholder: "gray",
    arbitration: "priority_latest",
    camera_controls: null,
    outputs: [newOutput()],
  };
}

export class TransmissionsSection {
  readonly el: HTMLElement;
  private list: HTMLElement;
  private search: HTMLInputElement;
  private items: Transmission[] = [];
  private loadError = "";

  constructor() {
    this.search = h("input.search", { type: "search", placeholder: "Search by name, path or id", "aria-label": "Search transmissions", dataset: { testid: "tx-search" }, oninput: () => this.draw() });
    this.list = h("div.tx-list", { dataset: { testid: "tx-list" } }, h("p.muted", null, "Loading transmissions…"));
    this.el = h("section.card.transmissions", { dataset: { testid: "transmissions" } },
      h("header.card-head", null,
        h("h2", null, "Transmissions"),
        h("div.head-tools", null,
          h("label.search-box", null, icon("search"), this.search),
          h("button.btn.primary", { type: "button", dataset: { testid: "tx-new" }, onclick: () => this.edit(null) }, icon("plus"), "New transmission"),
        ),
      ),
      this.list,
    );
    void this.reload();
  }

  async reload(): Promise<void> {
    try {
      this.items = await api.transmissions();
      this.loadError = "";
    } catch (err) {
      this.loadError = errorText(err);
    }
    this.draw();
  }

  private draw(): void {
    if (this.loadError) {
      render(this.list, h("div.notes.error", null, `Could not load transmissions: ${this.loadError}`));
      return;
    }
    const q = this.search.value.trim().toLowerCase();
    const shown = this.items.filter((t) => !q || [t.name, t.path, t.id].some((s) => (s ?? "").toLowerCase().includes(q)));
    if (!this.items.length) {
      render(this.list, h("div.empty", null, h("p", null, "No transmissions yet."), h("p.muted", null, "Create one, then publish frames into it from a pipeline.")));
      return;
    }
    if (!shown.length) {
      render(this.list, h("div.empty", null, h("p", null, `No transmission matches “${this.search.value}”.`)));
      return;
    }
    render(this.list, shown.map((t) => this.row(t)));
  }

  private row(t: Transmission): HTMLElement {
    const outs = t.outputs ?? [];
    return h("article.tx-row", { dataset: { testid: "tx-row", id: t.id } },
      h("span.dot", { class: t.enabled ? "ok" : "off", title: t.enabled ? "Enabled" : "Disabled" }),
      h("div.tx-main", null,
        h("div.tx-title", null, h("strong", { dataset: { testid: "tx-name" } }, t.name || t.path || t.id), t.enabled ? null : h("span.pill.off", null, "disabled")),
        h("div.tx-meta", null, h("code", null, t.path), h("span.muted", null, `· ${t.host_server_id} · ${t.arbitration} · ${t.placeholder} placeholder`)),
        h("div.chips", null, outs.length ? outs.map((o) => h("span.chip", { class: `${o.protocol}${o.enabled ? "" : " disabled"}`, title: o.id },
          o.protocol.toUpperCase(), o.resolution ? ` ${o.resolution.width}×${o.resolution.height}` : "", o.fps_limit ? ` ${o.fps_limit}fps` : "",
          o.authentication?.enabled ? " 🔒" : "")) : h("span.muted", null, "no outputs")),
      ),
      h("div.row-actions", null,
        h("button.btn.ghost", { type: "button", dataset: { testid: "tx-urls" }, onclick: () => showURLs(t) }, icon("link"), "Load URLs"),
        h("button.btn.ghost", { type: "button", dataset: { testid: "tx-wizard" }, onclick: () => openWizard(t) }, icon("wand"), "Wizard"),
        h("a.btn.ghost", { href: `/watch/${encodeURIComponent(t.id)}`, dataset: { link: "", testid: "tx-watch" } }, icon("play"), "Watch"),
        h("button.btn.ghost", { type: "button", dataset: { testid: "tx-edit" }, onclick: () => this.edit(t) }, icon("edit"), "Edit"),
        h("button.btn.ghost.danger", { type: "button", dataset: { testid: "tx-delete" }, onclick: () => this.remove(t) }, icon("trash")),
      ),
    );
  }

  private remove(t: Transmission): void {
    const yes = h("button.btn.danger", { type: "button", dataset: { testid: "confirm-delete" } }, "Delete");
    const no = h("button.btn", { type: "button", dataset: { testid: "cancel-delete" } }, "Cancel");
    const m = modal("Delete transmission", h("div", { dataset: { testid: "delete-confirm" } },
      h("p", null, "Delete ", h("strong", null, t.name || t.path), "? Viewers are disconnected and its URLs stop working."),
      h("div.actions", null, no, yes)));
    no.onclick = m.close;
    yes.onclick = async () => {
      yes.disabled = true;
      try {
        await api.deleteTransmission(t.id);
        toast(`Deleted ${t.name || t.path}`);
        m.close();
        await this.reload();
      } catch (err) {
        toast(`Delete failed: ${errorText(err)}`, "error");
        yes.disabled = false;
      }
    };
  }

  private edit(existing: Transmission | null): void {
    const creating = existing === null;
    const draft: Transmission = structuredClone(existing ?? newTransmission());
    let pathTouched = !creating;
    const banner = h("div.banner.error", { hidden: true, dataset: { testid: "form-banner" } });
    const outputsEl = h("div.outputs");
    const urlChanges = h("div", { dataset: { testid: "url-changes" } });
    const footer = h("div.actions.end");
    const cameras: { list: Camera[] | null } = { list: null };

    const text = (value: string, oninput: (v: string) => void, attrs: Record<string, unknown> = {}) =>
      h("input", { type: "text", value, oninput: (e: Event) => oninput((e.target as HTMLInputElement).value), ...attrs });
    const num = (value: number | null | undefined, oninput: (v: string) => void, attrs: Record<string, unknown> = {}) =>
      h("input", { type: "number", value: value === null || value === undefined ? "" : String(value), oninput: (e: Event) => oninput((e.target as HTMLInputElement).value), ...attrs });

    const pathInput = text(draft.path, (v) => { draft.path = v; pathTouched = true }, { placeholder: "front-door", spellcheck: false, dataset: { testid: "tx-path" } });
    const nameInput = text(draft.name, (v) => {
      draft.name = v;
      if (!pathTouched) {
        draft.path = slugify(v) || "stream";
        pathInput.value = draft.path;
      }
    }, { placeholder: "Front Door", dataset: { testid: "tx-name-input" } });

    const drawOutputs = () => {
      render(outputsEl, draft.outputs.map((o, i) => {
        const p = `outputs.${i}`;
        const auth = o.authentication ?? (o.authentication = { enabled: false, username: null, password: null });
        const res = () => o.resolution ?? (o.resolution = { width: 1280, height: 720 });
        const authFields = h("div.grid2", { hidden: !auth.enabled },
          field("Username", text(auth.username ?? "", (v) => { auth.username = v || null }, { autocomplete: "off" }), `${p}.authentication.username`),
          field("Password", text(auth.password ?? "", (v) => { auth.password = v || null }, { type: "password", autocomplete: "new-password", placeholder: auth.password_set ? "stored: leave empty to keep it" : "" }), `${p}.authentication.password`),
        );
        return h("fieldset.output", { dataset: { testid: "output", field: p } },
          h("legend", null, h("span.chip", { class: o.protocol }, o.protocol.toUpperCase()), " Output ", h("code", null, o.id)),
          h("small.field-error", { role: "alert" }),
          h("div.grid4", null,
            field("Protocol", select(o.protocol, [["hls", "HLS"], ["webrtc", "WebRTC (WHEP)"], ["rtsp", "RTSP"]], (v) => { o.protocol = v; drawOutputs() }), `${p}.protocol`),
            field("Output id", text(o.id, (v) => { o.id = v }, { spellcheck: false }), `${p}.id`),
            field("Latency profile", select(o.latency_profile ?? "normal", [["normal", "Normal"], ["low", "Low"], ["ultra_low", "Ultra low"]], (v) => { o.latency_profile = v }), `${p}.latency_profile`),
            checkbox("Enabled", o.enabled !== false, `${p}.enabled`, (v) => { o.enabled = v }),
          ),
          h("div.grid4", null,
            field("Width", num(o.resolution?.width, (v) => { res().width = optInt(v) as number }, { min: "1", max: "7680", placeholder: "1280", dataset: { testid: "output-width" } }), `${p}.resolution.width`),
            field("Height", num(o.resolution?.height, (v) => { res().height = optInt(v) as number }, { min: "1", max: "4320", placeholder: "720" }), `${p}.resolution.height`),
            field("FPS limit", num(o.fps_limit, (v) => { o.fps_limit = optInt(v) }, { min: "1", max: "120", placeholder: "12", dataset: { testid: "output-fps" } }), `${p}.fps_limit`),
            field("Bitrate (kbps)", num(o.bitrate_kbps, (v) => { o.bitrate_kbps = optInt(v) }, { min: "64", max: "250000", placeholder: "auto" }), `${p}.bitrate_kbps`),
          ),
          h("div.grid2", null,
            field("Engine path (optional)", text(o.path ?? "", (v) => { o.path = v.trim() || null }, { placeholder: "automatic", spellcheck: false, dataset: { testid: "output-path" } }), `${p}.path`,
              "Empty: the transmission's path, or <path>-<output id> when several outputs are enabled. Set it to pin this output's URL.")),
          checkbox("Require a username and password to watch", auth.enabled, `${p}.authentication.enabled`, (v) => { auth.enabled = v; authFields.hidden = !v }),
          authFields,
          h("div.actions.end", null, h("button.btn.ghost.danger", { type: "button", onclick: () => { draft.outputs.splice(i, 1); drawOutputs() } }, icon("trash"), "Remove output")),
        );
      }), draft.outputs.length ? null : h("p.muted", null, "No outputs: nobody can watch this transmission."));
    };
    drawOutputs();

    const cameraSlot = h("div");
    const drawCamera = () => {
      const cc = draft.camera_controls;
      const picker = cameras.list?.length
        ? select(cc?.camera_id ?? "", [["", "Choose a camera…"], ...cameras.list.map((c) => [c.id, c.name || c.id] as [string, string])], (v) => { if (draft.camera_controls) draft.camera_controls.camera_id = v || null })
        : text(cc?.camera_id ?? "", (v) => { if (draft.camera_controls) draft.camera_controls.camera_id = v || null }, { placeholder: "camera id" });
      render(cameraSlot,
        checkbox("Camera controls (PTZ) for this transmission", !!cc?.enabled, "camera_controls.enabled", (v) => {
          draft.camera_controls = v ? { enabled: true, camera_id: draft.camera_controls?.camera_id ?? null } : null;
          drawCamera();
        }),
        cc?.enabled ? field("Camera", picker, "camera_controls.camera_id") : null,
      );
    };
    drawCamera();
    api.cameras().then((list) => { cameras.list = Array.isArray(list) ? list : []; drawCamera() }).catch(() => { /* no camera list: free text */ });

    const save = h("button.btn.primary", { type: "submit", dataset: { testid: "tx-save" } }, creating ? "Create transmission" : "Save changes");
    const cancel = h("button.btn", { type: "button" }, "Cancel");
    footer.append(cancel, save);
    const form = h("form.tx-form", { novalidate: true, dataset: { testid: "tx-form" } },
      banner,
      h("div.grid2", null,
        field("Name", nameInput, "name"),
        field("Path", pathInput, "path", "Engine path in the URLs: letters, digits, - and _. With several enabled outputs each gets <path>-<output id>, unless the output pins its own path."),
      ),
      h("div.grid4", null,
        field("Placeholder", select(draft.placeholder ?? "gray", [["gray", "Gray"], ["black", "Black"]], (v) => { draft.placeholder = v }), "placeholder"),
        field("Arbitration", select(draft.arbitration ?? "priority_latest", [["priority_latest", "Priority, then latest"], ["latest", "Latest frame"]], (v) => { draft.arbitration = v }), "arbitration"),
        field("Host server", text(draft.host_server_id ?? "local", (v) => { draft.host_server_id = v }, { spellcheck: false }), "host_server_id"),
        checkbox("Enabled", draft.enabled !== false, "enabled", (v) => { draft.enabled = v }),
      ),
      cameraSlot,
      h("div.section-head", null, h("h3", null, "Outputs"),
        h("button.btn.ghost", { type: "button", dataset: { testid: "output-add" }, onclick: () => { draft.outputs.push(newOutput(draft.outputs.some((o) => o.protocol === "hls") ? "webrtc" : "hls", draft.outputs)); drawOutputs() } }, icon("plus"), "Add output")),
      outputsEl,
      // The URL-change warning sits in the sticky footer, in place of the buttons, so that it is seen.
      h("div.sticky", null, urlChanges, footer),
    );
    const errors = new FormErrors(form, banner);
    const m = modal(creating ? "New transmission" : `Edit ${existing?.name || existing?.path}`, form, { wide: true, testid: "tx-modal" });
    cancel.onclick = m.close;

    /**
     * Shows the URL changes saving would make and waits for the user: the
     * pins chosen ("Keep the old URL": output id → its old engine path), or
     * null to go back to editing.
     */
    const confirmURLChanges = (changes: URLChange[]): Promise<Map<string, string> | null> => new Promise((resolve) => {
      const boxes = changes.map((c) => h("input", { type: "checkbox", dataset: { testid: "url-keep", output: c.output_id } }));
      const done = (go: boolean) => {
        render(urlChanges);
        footer.hidden = false;
        resolve(go ? new Map(changes.filter((_, i) => boxes[i].checked).map((c) => [c.output_id, c.old_engine_path])) : null);
      };
      render(urlChanges, h("div.notes.warn.url-change", { role: "alert", dataset: { testid: "url-change" } },
        h("p", null, "Saving changes the URL of outputs viewers may already use:"),
        h("ul", null, changes.map((c, i) => h("li", { dataset: { testid: "url-change-row", output: c.output_id } },
          h("div", null, h("strong", null, c.output_id), ": ", h("code", { dataset: { testid: "url-old" } }, c.old_url), " → ", h("code", { dataset: { testid: "url-new" } }, c.new_url)),
          h("label", null, boxes[i], ` Keep the old URL (pins the output's path to ${c.old_engine_path})`)))),
        h("div.actions.end", null,
          h("button.btn", { type: "button", dataset: { testid: "url-change-cancel" }, onclick: () => done(false) }, "Back to editing"),
          h("button.btn.primary", { type: "button", dataset: { testid: "url-change-confirm" }, onclick: () => done(true) }, "Save"))));
      footer.hidden = true;
    });

    const bodyOf = (): Record<string, unknown> => {
      const body: Record<string, unknown> = structuredClone(draft);
      if (creating) delete body.id;
      for (const o of body.outputs as Output[]) {
        const r = o.resolution;
        if (r && (r.width === null || (r.width as unknown) === "") && (r.height === null || (r.height as unknown) === "")) o.resolution = null;
        if (o.authentication && !o.authentication.enabled && !o.authentication.username && !o.authentication.password) o.authentication = { enabled: false, username: null, password: null };
      }
      return body;
    };

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      errors.clear();
      save.disabled = true;
      try {
        if (!creating) {
          // The server knows the path rule: it says which saved URLs this edit moves (and checks the draft as a save would).
          const { changes } = await api.previewURLs(draft.id, bodyOf());
          if (changes.length) {
            const pins = await confirmURLChanges(changes);
            if (!pins) return;
            for (const o of draft.outputs) if (pins.has(o.id)) o.path = pins.get(o.id);
            if (pins.size) drawOutputs();
          }
        }
        const saved = creating ? await api.createTransmission(bodyOf()) : await api.updateTransmission(draft.id, bodyOf());
        toast(creating ? `Created ${saved.name || saved.path}` : `Saved ${saved.name || saved.path}`);
        m.close();
        await this.reload();
      } catch (err) {
        errors.show(err);
      } finally {
        save.disabled = false;
      }
    });
  }
}

/** The URLs modal: every enabled output's URL with a copy button; also primes demand (best effort). */
export function showURLs(t: Transmission): void {
  const body = h("div.urls", { dataset: { testid: "urls" } }, h("p.muted", null, "Resolving URLs…"));
  modal(`URLs of ${t.name || t.path}`, body, { wide: true, testid: "urls-modal" });
  const primeNote = h("p.muted.small");
  api.prime(t.id).then(
    (r) => { primeNote.textContent = r.primed_outputs ? `Publishers primed for ${r.primed_outputs} output(s): the stream is warm when a player connects.` : "" },
    (err) => { primeNote.textContent = isMissing(err) ? "" : `Priming demand failed: ${errorText(err)}` },
  );
  api.urls(t.id).then((u) => {
    render(body,
      u.warnings?.length ? h("ul.notes.warn", null, u.warnings.map((w) => h("li", null, w))) : null,
      u.outputs.length ? h("div.url-list", null, u.outputs.map((o) => {
        const copy = h("button.btn.ghost", { type: "button", dataset: { testid: "url-copy" }, title: "Copy URL" }, icon("copy"), "Copy");
        copy.onclick = async () => {
          const ok = await copyText(o.url);
          toast(ok ? "URL copied" : "Copy failed: select the URL and copy it by hand", ok ? "ok" : "error");
          if (ok) { copy.classList.add("done"); setTimeout(() => copy.classList.remove("done"), 1200) }
        };
        return h("div.url-row", { dataset: { testid: "url-row", protocol: o.protocol } },
          h("span.chip", { class: o.protocol }, o.protocol.toUpperCase()),
          h("div.url-main", null,
            h("code.url", { dataset: { testid: "url-value" } }, o.url),
            h("small.muted", null, `output ${o.output_id} · engine path ${o.resolved_engine_path}`, o.requires_auth ? ` · user “${o.auth_username ?? ""}” required` : "")),
          copy);
      })) : h("p", null, "This transmission has no enabled outputs, so it has no URLs."),
      primeNote,
    );
  }).catch((err) => render(body, h("div.notes.error", null, `Could not resolve URLs: ${errorText(err)}`)));
}
