// Engine card (status, polled while visible; start/stop/restart) and the
// engine settings form (LAN exposure, preferred ports, ICE servers).
import { api, errorText, type EngineSettings, type EngineStatus } from "../api";
import { fmtDuration, h, icon, render, toast } from "../dom";
import { checkbox, field, FormErrors, optInt } from "../forms";
import { poll } from "../poll";

export function engineCard(onStatus: (st: EngineStatus) => void): { el: HTMLElement; stop: () => void } {
  const body = h("div.engine-body", null, h("p.muted", null, "Loading engine status…"));
  const stateEl = h("span.pill", { dataset: { testid: "engine-state" } }, "…");
  let busy = false;
  let last: EngineStatus | null = null;

  const btn = (action: "start" | "stop" | "restart", label: string, ic: "play" | "stop" | "restart") =>
    h("button.btn", { type: "button", dataset: { testid: `engine-${action}` }, onclick: () => run(action) }, icon(ic), label);
  const startBtn = btn("start", "Start", "play");
  const stopBtn = btn("stop", "Stop", "stop");
  const restartBtn = btn("restart", "Restart", "restart");

  const show = (st: EngineStatus) => {
    last = st;
    onStatus(st);
    stateEl.textContent = st.running ? "Running" : "Stopped";
    stateEl.className = `pill ${st.running ? "ok" : "off"}`;
    startBtn.disabled = busy || st.running;
    stopBtn.disabled = busy || !st.running;
    restartBtn.disabled = busy;
    const row = (k: string, v: Node | string) => h("div.kv", null, h("dt", null, k), h("dd", null, v));
    const ports = st.ports;
    render(body,
      h("dl.kvs", null,
        row("Kind", st.kind || "—"),
        row("Bind host", st.bind_host || "—"),
        row("Uptime", st.running ? fmtDuration(st.uptime_seconds) : "—"),
        row("Restarts", String(st.restart_count ?? 0)),
      ),
      h("div.ports", { dataset: { testid: "engine-ports" } },
        (["rtsp", "hls", "webrtc", "api"] as const).map((k) => h("div.port", null, h("span", null, k.toUpperCase()), h("strong", null, ports?.[k] ? String(ports[k]) : "—")))),
      st.warnings?.length ? h("ul.notes.warn", null, st.warnings.map((w) => h("li", null, w))) : null,
      st.last_error ? h("div.notes.error", { dataset: { testid: "engine-error" } }, h("strong", null, "Last error: "), st.last_error) : null,
    );
  };
  const showError = (err: unknown) => {
    stateEl.textContent = "Unknown";
    stateEl.className = "pill bad";
    render(body, h("div.notes.error", null, `Engine status unavailable: ${errorText(err)}`));
  };

  async function run(action: "start" | "stop" | "restart") {
    busy = true;
    if (last) show(last);
    try {
      show(await api.engineAction(action));
      toast(`Engine ${action === "stop" ? "stopped" : action === "start" ? "started" : "restarted"}`);
    } catch (err) {
      toast(`Engine ${action} failed: ${errorText(err)}`, "error");
    } finally {
      busy = false;
      if (last) show(last);
      poller.now();
    }
  }

  const poller = poll(async (signal) => {
    try {
      show(await api.engineStatus(signal));
    } catch (err) {
      if ((err as Error).name !== "AbortError") showError(err);
      throw err;
    }
  }, 5000);

  const el = h("section.card", { dataset: { testid: "engine-card" } },
    h("header.card-head", null, h("h2", null, "Engine"), stateEl),
    body,
    h("div.actions", null, startBtn, stopBtn, restartBtn),
  );
  return { el, stop: () => poller.stop() };
}

export function engineForm(initial: EngineSettings, onSaved: (e: EngineSettings) => void): HTMLElement {
  let draft = structuredClone(initial);
  const banner = h("div.banner.error", { hidden: true });
  const portInput = (k: keyof EngineSettings["preferred_ports"]) =>
    h("input", { type: "number", min: "1", max: "65535", value: String(draft.preferred_ports[k] ?? ""), dataset: { port: k } });
  const ports = { rtsp: portInput("rtsp"), hls: portInput("hls"), webrtc: portInput("webrtc"), api: portInput("api") };
  const lan = checkbox("Expose to LAN (readers listen on 0.0.0.0)", draft.expose_to_lan, "engine.expose_to_lan", (v) => { draft.expose_to_lan = v });
  const ice = h("textarea", { rows: 3, placeholder: "stun:stun.example.org:3478\nturn:user:pass@turn.example.org:3478", spellcheck: false }, (draft.webrtc_ice_servers ?? []).join("\n"));
  const hold = h("input", { type: "number", min: "1", max: "60", value: String(draft.reader_hold_seconds ?? 10) });
  const save = h("button.btn.primary", { type: "submit" }, "Save engine settings");

  const form = h("form.card.engine-form", { dataset: { testid: "engine-form" }, novalidate: true },
    h("header.card-head", null, h("h2", null, "Engine settings")),
    banner,
    lan,
    h("div.grid4", null,
      field("RTSP port", ports.rtsp, "engine.preferred_ports.rtsp"),
      field("HLS port", ports.hls, "engine.preferred_ports.hls"),
      field("WebRTC port", ports.webrtc, "engine.preferred_ports.webrtc"),
      field("API port", ports.api, "engine.preferred_ports.api"),
    ),
    field("ICE servers (one per line)", ice, "engine.webrtc_ice_servers", "stun:, turn: or turns: URLs; the dashboard passes them to the browser too."),
    field("Reader hold (seconds)", hold, "engine.reader_hold_seconds", "How long a viewer waits for a stream that is starting."),
    h("div.actions", null, save),
  );
  const errors = new FormErrors(form, banner);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    errors.clear();
    save.disabled = true;
    const patch = {
      engine: {
        expose_to_lan: draft.expose_to_lan,
        preferred_ports: { rtsp: optInt(ports.rtsp.value), hls: optInt(ports.hls.value), webrtc: optInt(ports.webrtc.value), api: optInt(ports.api.value) },
        webrtc_ice_servers: ice.value.split(/\r?\n/).map((s) => s.trim()).filter(Boolean),
        reader_hold_seconds: optInt(hold.value),
      },
    };
    try {
      const s = await api.patchSettings(patch);
      draft = structuredClone(s.engine);
      ice.value = draft.webrtc_ice_servers.join("\n");
      onSaved(s.engine);
      toast("Engine settings saved");
    } catch (err) {
      errors.show(err);
    } finally {
      save.disabled = false;
    }
  });
  return form;
}
