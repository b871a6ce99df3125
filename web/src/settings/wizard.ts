// The wizard: create a pipeline (camera + preset + options) that publishes
// into a transmission. Degrades to "not available" when the server has no
// cameras or wizard endpoint.
import { api, ApiError, errorText, isMissing, type Camera, type Transmission } from "../api";
import { h, modal, render, toast } from "../dom";
import { field, FormErrors, optInt, select } from "../forms";
import { CAMERAS_CHANGED } from "./crud";

/** The event the wizard dispatches on document after creating a pipeline, so lists refresh at once. */
export const PIPELINES_CHANGED = "toposync:pipelines-changed";

export const PRESETS: [string, string, string][] = [
  ["simple_stream", "Simple stream", "The camera, re-encoded for viewers."],
  ["motion_gate_stream", "Motion-gated stream", "Publishes only while there is motion; the placeholder otherwise."],
  ["detection_stream", "Detection stream", "Object detection boxes drawn on the picture."],
  ["tracking_stream", "Tracking stream", "Detections with track ids that follow objects."],
  ["segmentation_stream", "Segmentation stream", "Segmentation masks over the picture."],
];

export function openWizard(t: Transmission): void {
  const body = h("div.wizard", { dataset: { testid: "wizard" } }, h("p.muted", null, "Loading cameras…"));
  modal(`Create a pipeline for ${t.name || t.path}`, body, { wide: true, testid: "wizard-modal" });
  api.cameras().then((list) => {
    const cams = Array.isArray(list) ? list : ((list as { cameras?: Camera[] }).cameras ?? []);
    if (!cams.length) {
      render(body, h("div.empty", null, h("p", null, "No cameras are configured."), h("p.muted", null, "Add a camera first; the wizard connects it to this transmission.")));
      return;
    }
    render(body, wizardForm(t, cams));
  }).catch((err) => {
    render(body, h("div.empty", { dataset: { testid: "wizard-unavailable" } },
      h("p", null, isMissing(err) ? "The pipeline wizard is not available on this server." : `Cameras could not be loaded: ${errorText(err)}`),
      h("p.muted", null, "Transmissions still work: any pipeline can publish frames into them through the ingest API.")));
  });
}

const cameraOptions = (cams: Camera[]) => cams.map((c) => [c.id, `${c.name || c.id}${c.fps ? ` (${c.fps} fps)` : ""}`] as [string, string]);

function wizardForm(t: Transmission, cams: Camera[]): HTMLElement {
  const state = { camera: cams[0].id, preset: "simple_stream" };
  const cameraSelect = select(state.camera, cameraOptions(cams), (v) => { state.camera = v });
  // Cameras added, renamed or deleted in the Settings page while this is open: the list follows.
  const camerasChanged = () => {
    if (!cameraSelect.isConnected) {
      document.removeEventListener(CAMERAS_CHANGED, camerasChanged);
      return;
    }
    api.cameras().then((list) => {
      if (!list.length) return;
      if (!list.some((c) => c.id === state.camera)) state.camera = list[0].id;
      cameraSelect.replaceChildren(...cameraOptions(list).map(([v, label]) => h("option", { value: v, selected: v === state.camera }, label)));
    }).catch(() => { /* keep the list shown */ });
  };
  document.addEventListener(CAMERAS_CHANGED, camerasChanged);
  const banner = h("div.banner.error", { hidden: true, dataset: { testid: "wizard-banner" } });
  const num = (placeholder: string, attrs: Record<string, unknown> = {}) => h("input", { type: "number", placeholder, ...attrs });
  const name = h("input", { type: "text", placeholder: `${t.path}-pipeline`, spellcheck: false });
  const fps = num("camera fps", { min: "1", max: "120" });
  const priority = num("0", { step: "1" });
  // Placeholders are the server's defaults (pipeline.DefaultWizardOptions).
  const sens = num("0.01", { min: "0", max: "1", step: "any" });
  const holdS = num("6", { min: "0", max: "120", step: "0.5" });
  const motion = h("div.grid2", null,
    field("Motion sensitivity (0–1)", sens, "optional_parameters.motion_sensitivity", "Share of pixels that must change to count as motion: smaller reacts to smaller motion."),
    field("Motion hold (seconds)", holdS, "optional_parameters.motion_hold_seconds", "How long the stream stays on after motion stops."));
  const describe = h("small.hint");
  const presetChanged = () => {
    motion.hidden = state.preset !== "motion_gate_stream";
    describe.textContent = PRESETS.find((p) => p[0] === state.preset)?.[2] ?? "";
  };
  const result = h("div", { dataset: { testid: "wizard-result" } });
  const submit = h("button.btn.primary", { type: "submit", dataset: { testid: "wizard-submit" } }, "Create pipeline");
  const form = h("form", { novalidate: true, dataset: { testid: "wizard-form" } },
    banner,
    h("div.grid2", null,
      field("Camera", cameraSelect, "camera_id"),
      h("div", null, field("Preset", select(state.preset, PRESETS.map(([id, label]) => [id, label] as [string, string]), (v) => { state.preset = v; presetChanged() }), "preset_id"), describe),
    ),
    h("div.grid4", null,
      field("Pipeline name", name, "optional_parameters.pipeline_name"),
      field("FPS limit", fps, "optional_parameters.fps_limit"),
      field("Writer priority", priority, "optional_parameters.writer_priority"),
    ),
    motion,
    result,
    h("div.actions.end.sticky", null, submit),
  );
  presetChanged();
  const errors = new FormErrors(form, banner);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    errors.clear();
    submit.disabled = true;
    const opts: Record<string, unknown> = {};
    if (name.value.trim()) opts.pipeline_name = name.value.trim();
    for (const [k, el] of [["fps_limit", fps], ["writer_priority", priority]] as const) if (el.value.trim()) opts[k] = optInt(el.value);
    if (state.preset === "motion_gate_stream") {
      if (sens.value.trim()) opts.motion_sensitivity = Number(sens.value);
      if (holdS.value.trim()) opts.motion_hold_seconds = Number(holdS.value);
    }
    try {
      const r = await api.wizard({ transmission_id: t.id, camera_id: state.camera, preset_id: state.preset, optional_parameters: opts });
      toast(`Pipeline ${r.pipeline_name} created`);
      document.dispatchEvent(new CustomEvent(PIPELINES_CHANGED, { detail: r.pipeline_name }));
      render(result, h("div.notes.ok", null,
        h("p", null, "Pipeline ", h("strong", null, r.pipeline_name), " created. ", r.engine_running ? "The engine is running: open the dashboard to watch." : "Start the engine to watch it."),
        r.warnings?.length ? h("ul", null, r.warnings.map((w) => h("li", null, w))) : null));
    } catch (err) {
      // A 404 about a field (an unknown camera) has a loc; one without is the route missing.
      if (isMissing(err) && !(err instanceof ApiError && err.loc)) {
        render(result, h("div.notes.error", null, "The pipeline wizard is not available on this server."));
      } else {
        errors.show(err);
      }
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
