// The cameras card: list with the hub's status, add, edit, delete, and a
// connection test that shows one decoded frame.
import { api, ApiError, errorText, type Camera, type CameraDraft, type CameraStatus } from "../api";
import { h, icon, modal, render } from "../dom";
import { field, optInt } from "../forms";
import { CAMERAS_CHANGED, confirmDelete, endpointFields, listCard, plural, rowActions, submitForm, table, type ListCard } from "./crud";

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

export function camerasCard(): ListCard {
  // Cameras changed here: the wizard's camera list follows.
  const changed = (refresh: () => void) => () => {
    refresh();
    document.dispatchEvent(new CustomEvent(CAMERAS_CHANGED));
  };
  return listCard<Camera>({
    title: "Cameras", testid: "cameras", what: "cameras", intervalMs: 5000, fetch: api.cameras,
    add: { label: "Add camera", testid: "camera-add", onclick: (refresh) => editCamera(null, changed(refresh)) },
    draw: (cams, refresh) => cams.length ? table(["Camera", "Source", "FPS", "Login", "Status", ""], cams.map((c) => h("tr", { dataset: { testid: "camera-row", id: c.id } },
      h("td", null, h("strong", { dataset: { testid: "camera-name" } }, cameraName(c)), h("div.muted.small", null, c.id)),
      h("td", null, h("code.small", null, c.url)),
      h("td", null, c.fps ? String(c.fps) : "—"),
      h("td", null, c.username ? `${c.username}${c.password_set ? " · password set" : ""}` : "—"),
      cameraStatus(c.status),
      rowActions(`camera ${cameraName(c)}`, () => editCamera(c, changed(refresh)), () => confirmDelete("camera", cameraName(c),
        "Pipelines can no longer read it.", () => api.deleteCamera(c.id), changed(refresh))))))
      : h("p.muted", null, "No cameras configured."),
  });
}

/** The camera form: create (existing null) or edit, with a connection test. */
function editCamera(existing: Camera | null, saved: () => void): void {
  const ep = endpointFields("camera", existing, { name: "Front door", url: "rtsp://192.168.1.20:554/stream1 or testsrc",
    urlHint: "An rtsp:// or rtsps:// URL without credentials, a video file in the camera files directory, or testsrc (the built-in test scene).", idHint: "Used by pipelines; derived from the name when empty." });
  const fps = h("input", { type: "number", min: "1", max: "120", value: existing?.fps ? String(existing.fps) : "", placeholder: "the camera's own" });
  const banner = h("div.banner.error", { hidden: true, dataset: { testid: "form-banner" } });
  const preview = h("div.camera-test", { dataset: { testid: "camera-test" } });
  const testBtn = h("button.btn", { type: "button", dataset: { testid: "camera-test-run" } }, icon("play"), "Test connection");
  const save = h("button.btn.primary", { type: "submit", dataset: { testid: "camera-save" } }, existing ? "Save changes" : "Add camera");
  const cancel = h("button.btn", { type: "button" }, "Cancel");
  const form = h("form.inv-form", { novalidate: true, dataset: { testid: "camera-form" } },
    banner,
    ep.el,
    h("div.grid2", null, field("FPS", fps, "fps", "A hint; leave empty to keep the camera's rate.")),
    preview,
    h("div.actions.end", null, testBtn, cancel, save),
  );
  const m = modal(existing ? `Edit camera ${cameraName(existing)}` : "Add camera", form, { wide: true, testid: "camera-modal", onClose: () => { test?.abort(); dropPreview() } });
  cancel.onclick = m.close;
  const errors = submitForm(form, banner, save, async () => {
    const c = existing ? await api.updateCamera(existing.id, draft()) : await api.createCamera(draft());
    return existing ? `Saved ${cameraName(c)}` : `Added ${cameraName(c)}`;
  }, m.close, saved);

  const draft = (): CameraDraft => ({ ...ep.members(), fps: optInt(fps.value) });

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
      render(preview, h("img.camera-preview", { src: objectURL, alt: `A frame of ${ep.name.value || "the camera"}`, dataset: { testid: "camera-preview" } }),
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
}
