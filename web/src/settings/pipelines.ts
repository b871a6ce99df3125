// The pipelines card: list with status, enable/disable, the processing
// server that runs each, delete. Pipelines are created by the wizard (from
// a transmission); their graph is edited through the API.
import { api, errorText, type Pipeline, type ProcessingServer, type RunMode } from "../api";
import { h, modal, render, toast } from "../dom";
import { checkbox, field, select } from "../forms";
import { confirmDelete, listCard, rowActions, submitForm, table, type ListCard } from "./crud";

/** The members PUT takes: a listing's status is read-only. */
const body = (p: Pipeline): Pipeline => ({ name: p.name, enabled: p.enabled, processing_server_id: p.processing_server_id, run_mode: p.run_mode ?? "always", graph: p.graph });

/** The state pill: class and word. A resting pipeline (on_demand, nobody watching) is fine. */
function stateOf(p: Pipeline): [string, string] {
  const st = p.status;
  if (!p.enabled) return ["off", "disabled"];
  if (!st) return ["off", "unknown"];
  switch (st.state) {
    case "resting": return ["off", "resting"];
    case "failing": return ["bad", "failing"];
    case "stopped": return ["bad", "stopped"];
  }
  return st.running ? ["ok", "running"] : ["bad", "stopped"];
}

export function pipelinesCard(): ListCard {
  const f = (n: number | null | undefined) => (n === null || n === undefined ? "—" : n.toFixed(1));
  return listCard<Pipeline>({
    title: "Pipelines", testid: "pipelines", what: "pipelines", intervalMs: 5000, fetch: api.pipelines,
    draw: (pipes, refresh) => pipes.length ? table(["Pipeline", "State", "FPS in / out", "Restarts", "Last error", ""], pipes.map((p) => {
      const st = p.status;
      const state = stateOf(p);
      const toggle = h("button.btn.ghost", { type: "button", dataset: { testid: "pipeline-toggle" }, onclick: () => setEnabled(p, !p.enabled, toggle, refresh) }, p.enabled ? "Disable" : "Enable");
      return h("tr", { dataset: { testid: "pipeline-row", name: p.name, state: state[1], fpsIn: String(st?.fps_in ?? "") } },
        h("td", null, h("strong", null, p.name), p.processing_server_id ? h("div.muted.small", null, p.processing_server_id) : null),
        h("td", null, h("span.pill", { class: state[0], dataset: { testid: "pipeline-state" }, title: st?.state_detail ?? "" }, state[1]),
          h("div.muted.small", { dataset: { testid: "pipeline-run-mode" } }, p.run_mode === "on_demand" ? "runs while watched" : "always runs")),
        h("td", { dataset: { testid: "pipeline-fps" } }, st ? `${f(st.fps_in)} / ${f(st.fps_out)}` : "—"),
        h("td", null, st ? String(st.restarts ?? 0) : "—"),
        h("td.small", null, st?.last_error ?? ""),
        rowActions(`pipeline ${p.name}`, () => editPipeline(p, refresh), () => confirmDelete("pipeline", p.name,
          "It stops, and its transmission shows the placeholder unless another pipeline feeds it.", () => api.deletePipeline(p.name), refresh), toggle));
    })) : h("p.muted", null, "No pipelines yet. The wizard on a transmission creates one."),
  });
}

/** PUTs p with enabled flipped and everything else as it is. */
async function setEnabled(p: Pipeline, enabled: boolean, button: HTMLButtonElement, done: () => void): Promise<void> {
  button.disabled = true;
  try {
    await api.updatePipeline(p.name, { ...body(p), enabled });
    toast(`${enabled ? "Enabled" : "Disabled"} ${p.name}`);
    done();
  } catch (err) {
    toast(`${p.name} could not be ${enabled ? "enabled" : "disabled"}: ${errorText(err)}`, "error");
    button.disabled = false;
  }
}

/** Edits what a pipeline has besides its graph: whether it runs, when, and where. */
function editPipeline(p: Pipeline, saved: () => void): void {
  const draft = body(p);
  const banner = h("div.banner.error", { hidden: true, dataset: { testid: "form-banner" } });
  const hostSlot = h("div");
  const drawHosts = (servers: ProcessingServer[]) => {
    const current = draft.processing_server_id ?? "local";
    const options: [string, string][] = [["local", "This server (local)"], ...servers.map((s) => [s.id, `${s.name || s.id} (${s.id})`] as [string, string])];
    if (!options.some(([id]) => id === current)) options.push([current, current]);
    render(hostSlot, field("Runs on", select(current, options, (v) => { draft.processing_server_id = v }), "processing_server_id"));
  };
  drawHosts([]);
  api.servers().then(drawHosts, () => { /* no server list: local and the current host only */ });
  const save = h("button.btn.primary", { type: "submit", dataset: { testid: "pipeline-save" } }, "Save changes");
  const cancel = h("button.btn", { type: "button" }, "Cancel");
  const form = h("form.inv-form", { novalidate: true, dataset: { testid: "pipeline-form" } },
    banner,
    checkbox("Enabled", draft.enabled, "enabled", (v) => { draft.enabled = v }),
    field("Runs", select<RunMode>(draft.run_mode ?? "always", [["always", "Always (analyses with nobody watching)"], ["on_demand", "On demand (rests while nobody watches)"]], (v) => { draft.run_mode = v }), "run_mode",
      "On demand: the camera session and the analysis stop when no viewer watches its transmission, and start again when one comes."),
    hostSlot,
    h("p.muted.small", null, "The graph (camera, operators, transmission) is edited through the API; the wizard creates a new pipeline."),
    h("div.actions.end", null, cancel, save));
  const m = modal(`Edit pipeline ${p.name}`, form, { testid: "pipeline-modal" });
  cancel.onclick = m.close;
  submitForm(form, banner, save, async () => {
    await api.updatePipeline(p.name, draft);
    return `Saved ${p.name}`;
  }, m.close, saved);
}
