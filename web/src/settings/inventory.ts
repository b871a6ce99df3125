// Cameras and pipelines lists with status. Either list says "not available"
// when the server lacks the endpoint, without affecting the rest of the page.
import { api, errorText, isMissing, type Camera, type CameraStatus, type Pipeline, type PipelineStatus } from "../api";
import { h, render } from "../dom";
import { poll } from "../poll";
import { PIPELINES_CHANGED } from "./wizard";

function unavailable(what: string, err: unknown): HTMLElement {
  return h("div.empty.small", { dataset: { testid: `${what}-unavailable` } },
    isMissing(err) ? `${what[0].toUpperCase()}${what.slice(1)} are not available on this server.` : `Could not load ${what}: ${errorText(err)}`);
}

function asList<T>(v: unknown, key: string): T[] {
  if (Array.isArray(v)) return v as T[];
  const inner = v && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined;
  return Array.isArray(inner) ? (inner as T[]) : [];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

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

export function inventory(): { el: HTMLElement; stop: () => void } {
  const camsEl = h("div.inv-body", { dataset: { testid: "cameras" } }, h("p.muted", null, "Loading…"));
  const pipesEl = h("div.inv-body", { dataset: { testid: "pipelines" } }, h("p.muted", null, "Loading…"));

  const loadCameras = async () => {
    try {
      const cams = asList<Camera>(await api.cameras(), "cameras");
      render(camsEl, cams.length ? h("table.table", null,
        h("thead", null, h("tr", null, h("th", null, "Camera"), h("th", null, "Source"), h("th", null, "FPS"), h("th", null, "Login"), h("th", null, "Status"))),
        h("tbody", null, cams.map((c) => h("tr", { dataset: { testid: "camera-row", id: c.id } },
          h("td", null, h("strong", null, c.name || c.id), h("div.muted.small", null, c.id)),
          h("td", null, h("code.small", null, c.url)),
          h("td", null, c.fps ? String(c.fps) : "—"),
          h("td", null, c.username ? `${c.username}${c.password_set ? " · password set" : ""}` : "—"),
          cameraStatus(c.status))))) : h("p.muted", null, "No cameras configured."));
    } catch (err) {
      render(camsEl, unavailable("cameras", err));
    }
  };

  const loadPipelines = async () => {
    let pipes: Pipeline[];
    try {
      pipes = asList<Pipeline>(await api.pipelines(), "pipelines");
    } catch (err) {
      render(pipesEl, unavailable("pipelines", err));
      return;
    }
    if (!pipes.length) {
      render(pipesEl, h("p.muted", null, "No pipelines yet. The wizard on a transmission creates one."));
      return;
    }
    const statuses = await Promise.all(pipes.map((p) => api.pipelineStatus(p.name).catch(() => null as PipelineStatus | null)));
    render(pipesEl, h("table.table", null,
      h("thead", null, h("tr", null, h("th", null, "Pipeline"), h("th", null, "State"), h("th", null, "FPS in / out"), h("th", null, "Restarts"), h("th", null, "Last error"))),
      h("tbody", null, pipes.map((p, i) => {
        const st = statuses[i];
        const state = !p.enabled ? ["off", "disabled"] : !st ? ["off", "unknown"] : st.running ? ["ok", "running"] : ["bad", "stopped"];
        const f = (n: number | null | undefined) => (n === null || n === undefined ? "—" : n.toFixed(1));
        return h("tr", { dataset: { testid: "pipeline-row", name: p.name, state: state[1], fpsIn: String(st?.fps_in ?? "") } },
          h("td", null, h("strong", null, p.name), p.processing_server_id ? h("div.muted.small", null, p.processing_server_id) : null),
          h("td", null, h("span.pill", { class: state[0], dataset: { testid: "pipeline-state" } }, state[1])),
          h("td", { dataset: { testid: "pipeline-fps" } }, st ? `${f(st.fps_in)} / ${f(st.fps_out)}` : "—"),
          h("td", null, st ? String(st.restarts ?? 0) : "—"),
          h("td.small", null, st?.last_error ?? ""));
      }))));
  };

  // Every 5 s, and at once when the wizard creates a pipeline (its camera
  // list may have changed too).
  const camPoll = poll(loadCameras, 5000);
  const pipePoll = poll(loadPipelines, 5000);
  const changed = () => {
    camPoll.now();
    pipePoll.now();
  };
  document.addEventListener(PIPELINES_CHANGED, changed);
  const el = h("div.inventory",
    null,
    h("section.card", null, h("header.card-head", null, h("h2", null, "Cameras")), camsEl),
    h("section.card", null, h("header.card-head", null, h("h2", null, "Pipelines")), pipesEl),
  );
  return {
    el,
    stop: () => {
      camPoll.stop();
      pipePoll.stop();
      document.removeEventListener(PIPELINES_CHANGED, changed);
    },
  };
}
