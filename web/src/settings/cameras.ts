// The cameras card: list with the hub's status, add, edit, delete, and a
// connection test that shows one decoded frame.
import { api, ApiError, errorText, type Camera, type CameraDraft, type CameraStatus } from "../api";
import { h, icon, modal, render, toast } from "../dom";
import { field, FormErrors, optInt } from "../forms";
import { poll } from "../poll";
import { CAMERAS_CHANGED, card, confirmDelete, orNull, plural, rowActions, secretFields, table, textInput, unavailable } from "./crud";

/** The camera hub's view of a camera: its session, rates, consumers and decoders. */
function cameraStatus(st: CameraStatus | undefined): HTMLElement {
  if (!st || st.input !== "rtsp") {
    // A file or the test scene: one shared ffmpeg per output size, read by every pipeline.
    const readers = st?.consumers?.length
      ? `${st.connected ? "running" : "starting"} · ${plural(st.consumers.length, "consumer")} · ${plural(st.decoders?.length ?? 0, "shared ffmpeg")}`
      : "idle: no pipeline reads it";
    const why = st?.input === "refused" ? "URL refused: pipelines cannot open it" : readers;
    return h("td.small", { dataset: { testid: "camera-status", state: st?.input ?? "unknown" } }, h("span.muted", null, why),
      st?.last_error ? h("div", { dataset: { testid: "camera-error" } }, `Last error: ${st.last_error}`) : null);
  }
  const consumers = st.consumers ?? [];
  const decoders = st.decoders ?? [];
  const state = st.connected ? ["ok", "connected"] : consumers.length ? ["bad", "disconnected"] : ["off", "idle"];
  const size = st.width ? ` · ${st.width}x${st.height}` : "";
  return h("td.small", { dataset: { testid: "camera-status", state: state[1] } },
    h("span.pill", { class: state[0] }, state[1]),
    st.connected ? h("div", null, `${(st.fps ?? 0).toFixed(1)} fps · ${Math.round(st.bitrate_kbps ?? 0)} kbps${size}`) : null,
    h("div.muted", null, `${plural(consumers.length, "consumer")} · ${plural(decoders.length, "decoder")} · ${plural(st.sessions_opened ?? 0, "session")} opened`),
    consumers.length ? h("div.muted", { title: consumers.map((c) => `${c.name}: ${c.delivered} delivered, ${c.dropped} dropped`).join("\n") },
      consumers.map((c) => c.name).join(", ")) : null,
    st.last_error ? h("div", { dataset: { testid: "camera-error" } }, `Last error: ${st.last_error}`) : null);
}

const cameraName = (c: Camera) => c.name || c.id;

export function camerasCard(): { el: HTMLElement; refresh: () => void; stop: () => void } {
  const body = h("div.inv-body", { dataset: { testid: "cameras" } }, h("p.muted", null, "Loading…"));
  const load = async () => {
    let cams: Camera[];
    try {
      cams = await api.cameras();
    } catch (err) {
      render(body, unavailable("cameras", err));
      return;
    }
    render(body, cams.length ? table(["Camera", "Source", "FPS", "Login", "Status", ""], cams.map((c) => h("tr", { dataset: { testid: "camera-row", id: c.id } },
      h("td", null, h("strong", { dataset: { testid: "camera-name" } }, cameraName(c)), h("div.muted.small", null, c.id)),
      h("td", null, h("code.small", null, c.url)),
      h("td", null, c.fps ? String(c.fps) : "—"),
      h("td", null, c.username ? `${c.username}${c.password_set ? " · password set" : ""}` : "—"),
      cameraStatus(c.status),
      rowActions(`camera ${cameraName(c)}`, () => editCamera(c, changed), () => confirmDelete("camera", cameraName(c),
        "Pipelines can no longer read it.", () => api.deleteCamera(c.id), changed)))))
      : h("p.muted", null, "No cameras configured."));
  };
  const p = poll(load, 5000);
  const changed = () => {
    p.now();
    document.dispatchEvent(new CustomEvent(CAMERAS_CHANGED));
  };
  const el = card("Cameras", body, { label: "Add camera", testid: "camera-add", onclick: () => editCamera(null, changed) });
  return { el, refresh: p.now, stop: p.stop };
}

/** The camera form: create (existing null) or edit, with a connection test. */
function editCamera(existing: Camera | null, saved: () => void): void {
  const name = textInput(existing?.name ?? "", { placeholder: "Front door", dataset: { testid: "camera-name-input" } });
  const id = textInput(existing?.id ?? "", { placeholder: "from the name", disabled: !!existing });
  const url = textInput(existing?.url ?? "", { placeholder: "rtsp://192.168.1.20:554/stream1 or testsrc", dataset: { testid: "camera-url" } });
  const username = textInput(existing?.username ?? "", { dataset: { testid: "camera-username" } });
  const password = secretFields(!!existing?.password_set);
  const fps = h("input", { type: "number", min: "1", max: "120", value: existing?.fps ? String(existing.fps) : "", placeholder: "the camera's own" });
  const banner = h("div.banner.error", { hidden: true, dataset: { testid: "form-banner" } });
  const preview = h("div.camera-test", { dataset: { testid: "camera-test" } });
  const testBtn = h("button.btn", { type: "button", dataset: { testid: "camera-test-run" } }, icon("play"), "Test connection");
  const save = h("button.btn.primary", { type: "submit", dataset: { testid: "camera-save" } }, existing ? "Save changes" : "Add camera");
  const cancel = h("button.btn", { type: "button" }, "Cancel");
  const form = h("form.inv-form", { novalidate: true, dataset: { testid: "camera-form" } },
    banner,
    h("div.grid2", null, field("Name", name, "name"), field("Id", id, "id", existing ? "The id cannot change." : "Used by pipelines; derived from the name when empty.")),
    field("URL", url, "url", "An rtsp:// or rtsps:// URL without credentials, a video file in the camera files directory, or testsrc (the built-in test scene)."),
    h("div.grid2", null, field("Username", username, "username"), password.el),
    h("div.grid2", null, field("FPS", fps, "fps", "A hint; leave empty to keep the camera's rate.")),
    preview,
    h("div.actions.end", null, testBtn, cancel, save),
  );
  const errors = new FormErrors(form, banner);
  const m = modal(existing ? `Edit camera ${cameraName(existing)}` : "Add camera", form, { wide: true, testid: "camera-modal", onClose: () => { test?.abort(); dropPreview() } });
  cancel.onclick = m.close;

  const draft = (): CameraDraft => {
    const d: CameraDraft = { name: name.value.trim(), url: url.value.trim(), username: orNull(username.value), fps: optInt(fps.value) };
    const idValue = existing?.id ?? orNull(id.value);
    if (idValue) d.id = idValue;
    const pw = password.value();
    if (pw !== undefined) d.password = pw; // left out: the stored one is kept (and used by the test)
    return d;
  };

  let test: AbortController | null = null;
  let objectURL = "";
  const dropPreview = () => {
    if (objectURL) URL.revokeObjectURL(objectURL);
    objectURL = "";
  };
  testBtn.onclick = async () => {
    errors.clear();
    test?.abort();
    const ctl = (test = new AbortController());
    testBtn.disabled = true;
    render(preview, h("p.muted", null, "Opening the camera and decoding one frame…"));
    try {
      const blob = await api.testCamera(draft(), 640, ctl.signal);
      dropPreview();
      objectURL = URL.createObjectURL(blob);
      render(preview, h("img.camera-preview", { src: objectURL, alt: `A frame of ${name.value || "the camera"}`, dataset: { testid: "camera-preview" } }),
        h("p.notes.ok", { dataset: { testid: "camera-test-ok" } }, "Connected: this is the camera's picture now."));
    } catch (err) {
      if ((err as Error).name === "AbortError") return;
      if (err instanceof ApiError && err.fieldErrors.length) {
        render(preview);
        errors.show(err);
      } else {
        render(preview, h("p.notes.error", { role: "alert", dataset: { testid: "camera-test-error" } }, `Test failed: ${errorText(err)}`));
      }
    } finally {
      if (test === ctl) testBtn.disabled = false;
    }
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    errors.clear();
    save.disabled = true;
    try {
      const c = existing ? await api.updateCamera(existing.id, draft()) : await api.createCamera(draft());
      toast(existing ? `Saved ${cameraName(c)}` : `Added ${cameraName(c)}`);
      m.close();
      saved();
    } catch (err) {
      errors.show(err);
    } finally {
      save.disabled = false;
    }
  });
}
