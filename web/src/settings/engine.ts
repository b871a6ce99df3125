// Engine card (status, polled while visible; start/stop/restart; the engine
// kind and MediaMTX version; for MediaMTX its download, paths and strays) and
// the engine settings form (LAN exposure, preferred ports, ICE servers).
import { api, ApiError, errorText, type EngineSettings, type EngineStatus, type HLSVariant } from "../api";
import { fmtDuration, h, icon, render, toast } from "../dom";
import { checkbox, field, FormErrors, optInt, select } from "../forms";
import { poll, type Poller } from "../poll";

const KINDS: ["embedded" | "mediamtx", string][] = [["embedded", "Embedded"], ["mediamtx", "MediaMTX"]];
/** The server's check of engine.mediamtx_version (after trimming). */
const VERSION_RE = /^v[0-9]+\.[0-9]+\.[0-9]+$/;
const DEFAULT_MEDIAMTX_VERSION = "v1.20.1";

const mb = (n: number) => (n / (1024 * 1024)).toFixed(1);

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

  // Kind and version: a small form of its own, saved through PATCH /settings.
  // It follows the server's settings until the user edits it.
  let dirty = false;
  let saving = false;
  const kindSel = select<string>("embedded", KINDS, () => { dirty = true; syncKindForm() });
  kindSel.dataset.testid = "engine-kind";
  const version = h("input", { type: "text", value: DEFAULT_MEDIAMTX_VERSION, placeholder: DEFAULT_MEDIAMTX_VERSION, spellcheck: false, autocomplete: "off", dataset: { testid: "engine-version" }, oninput: () => { dirty = true; syncKindForm() } });
  const versionField = field("MediaMTX version", version, "engine.mediamtx_version", "A release tag; downloaded on demand.");
  const kindSave = h("button.btn.primary", { type: "submit", dataset: { testid: "engine-kind-save" } }, "Apply");
  const kindBanner = h("div.banner.error", { hidden: true });
  const kindForm = h("form.engine-kind", { dataset: { testid: "engine-kind-form" }, novalidate: true },
    kindBanner,
    h("div.grid2", null, field("Engine", kindSel, "engine.kind"), versionField),
    h("div.actions", null, kindSave, h("small.muted.kind-note", null, "Switching restarts the engine on the same ports.")),
  );
  const kindErrors = new FormErrors(kindForm, kindBanner);
  const syncKindForm = () => {
    versionField.hidden = kindSel.value !== "mediamtx";
    kindSave.disabled = saving || !dirty;
  };
  syncKindForm();
  kindForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    kindErrors.clear();
    const kind = kindSel.value;
    const v = version.value.trim();
    if (kind === "mediamtx" && !VERSION_RE.test(v)) {
      kindErrors.show(new ApiError(422, [{ loc: ["body", "engine", "mediamtx_version"], msg: `mediamtx_version should be a release tag such as ${DEFAULT_MEDIAMTX_VERSION}`, type: "value_error" }]));
      return;
    }
    saving = true;
    syncKindForm();
    try {
      const s = await api.patchSettings({ engine: kind === "mediamtx" ? { kind, mediamtx_version: v } : { kind } });
      dirty = false;
      kindSel.value = s.engine.kind;
      version.value = s.engine.mediamtx_version;
      toast(`Engine set to ${kind === "mediamtx" ? `MediaMTX ${s.engine.mediamtx_version}` : "embedded"}`);
    } catch (err) {
      kindErrors.show(err);
    } finally {
      saving = false;
      syncKindForm();
      poller.now();
    }
  });

  // MediaMTX only: its program (download with progress), paths and strays.
  let downloading = false; // POST /engine/download in flight
  let downloadErr: string | null = null; // its failure's detail, which says what to do
  let reclaiming = false;
  const downloadBtn = h("button.btn", { type: "button", dataset: { testid: "engine-download" }, onclick: () => download() }, "Download");
  const bar = h("span.progress-bar");
  const progressText = h("span.progress-text");
  const progress = h("div.download-progress", { role: "progressbar", "aria-label": "MediaMTX download", dataset: { testid: "engine-download-progress" }, hidden: true },
    h("div.progress", null, bar), progressText);
  const downloadError = h("div.notes.error", { dataset: { testid: "engine-download-error" }, hidden: true });
  const reclaimBtn = h("button.btn.small-btn", { type: "button", dataset: { testid: "engine-reclaim" }, hidden: true, onclick: () => reclaim() }, "Reclaim");
  const info = (label: string, testid?: string, extra?: Node) => {
    const value = h("span.path", { dataset: testid ? { testid } : undefined });
    return { value, el: h("div.kv.wide", null, h("dt", null, label), h("dd", null, value, extra ?? null)) };
  };
  const platformRow = info("Platform", "engine-platform");
  const binaryRow = info("Binary", "engine-binary-path");
  const configRow = info("Config", "engine-config-path");
  const logRow = info("Log", "engine-log-path");
  const orphansRow = info("Stray processes", "engine-orphans", reclaimBtn);
  const mtx = h("div.engine-mediamtx", { dataset: { testid: "engine-mediamtx" }, hidden: true },
    h("dl.kvs", null, platformRow.el, binaryRow.el, configRow.el, logRow.el, orphansRow.el),
    h("div.download", null, h("div.actions", null, downloadBtn), progress),
    downloadError,
  );

  const showMediaMTX = (st: EngineStatus) => {
    mtx.hidden = st.kind !== "mediamtx";
    if (mtx.hidden) return;
    platformRow.value.textContent = st.platform || "—";
    binaryRow.value.textContent = st.binary_path ?? "not installed";
    configRow.value.textContent = st.config_path ?? "—";
    logRow.value.textContent = st.log_path ?? "—";
    const orphans = st.orphan_pids ?? [];
    orphansRow.value.textContent = orphans.length ? `pid ${orphans.join(", ")}` : "none";
    reclaimBtn.hidden = !orphans.length;
    reclaimBtn.disabled = reclaiming;

    const d = st.download ?? { active: false, bytes_done: 0, bytes_total: -1 };
    if (d.active) downloadErr = null;
    downloadBtn.disabled = downloading || d.active;
    downloadBtn.textContent = downloading || d.active ? "Downloading…" : "Download";
    downloadBtn.title = st.binary_path ? "Installed; downloading again finds it in place" : "Install MediaMTX without starting it";
    progress.hidden = !(d.active || downloading || d.bytes_done > 0);
    const known = d.bytes_total >= 0;
    const pct = known && d.bytes_total > 0 ? Math.min(100, (d.bytes_done / d.bytes_total) * 100) : 0;
    bar.style.width = known ? `${pct}%` : "100%";
    progress.classList.toggle("indeterminate", !known && d.active);
    progress.dataset.done = String(d.bytes_done);
    progress.dataset.total = String(d.bytes_total);
    progress.setAttribute("aria-valuemin", "0");
    progress.setAttribute("aria-valuemax", "100");
    if (known) progress.setAttribute("aria-valuenow", String(Math.round(pct)));
    else progress.removeAttribute("aria-valuenow");
    const sizes = known ? `${mb(d.bytes_done)} / ${mb(d.bytes_total)} MB` : `${mb(d.bytes_done)} MB of unknown size`;
    progressText.textContent = d.active || downloading ? `Downloading ${sizes}` : d.error ? `Stopped at ${sizes}` : `Downloaded ${sizes}`;

    const err = downloadErr ?? (d.error && !d.active ? `Last download failed: ${d.error}` : null);
    downloadError.hidden = !err;
    downloadError.textContent = err ?? "";
  };

  // While a download runs the status is polled every 500 ms.
  let fast: Poller | null = null;
  const syncFast = (st: EngineStatus | null) => {
    const want = downloading || !!st?.download?.active;
    if (want && !fast) {
      fast = poll(async (signal) => {
        try {
          show(await api.engineStatus(signal));
        } catch (err) {
          if ((err as Error).name !== "AbortError" && !downloading) stopFast();
          throw err;
        }
      }, 500);
    } else if (!want) stopFast();
  };
  const stopFast = () => {
    fast?.stop();
    fast = null;
  };

  const show = (st: EngineStatus) => {
    last = st;
    onStatus(st);
    stateEl.textContent = st.running ? "Running" : "Stopped";
    stateEl.className = `pill ${st.running ? "ok" : "off"}`;
    startBtn.disabled = busy || st.running;
    stopBtn.disabled = busy || !st.running;
    restartBtn.disabled = busy;
    if (!dirty && !saving) {
      if (st.kind === "embedded" || st.kind === "mediamtx") kindSel.value = st.kind;
      if (st.mediamtx_version) version.value = st.mediamtx_version;
      syncKindForm();
    }
    const row = (k: string, v: Node | string) => h("div.kv", null, h("dt", null, k), h("dd", null, v));
    const ports = st.ports;
    render(body,
      h("dl.kvs", null,
        row("Kind", h("span", { dataset: { testid: "engine-kind-label" } }, st.kind === "mediamtx" ? `MediaMTX ${st.mediamtx_version || ""}`.trim() : st.kind || "—")),
        row("Bind host", st.bind_host || "—"),
        row("Encryption", h("span", { dataset: { testid: "engine-tls" } }, st.tls ? "TLS (RTSPS, HTTPS)" : "None (plain RTSP, HTTP)")),
        row("Uptime", st.running ? fmtDuration(st.uptime_seconds) : "—"),
        row("Restarts", h("span", { dataset: { testid: "engine-restarts" } }, String(st.restart_count ?? 0))),
      ),
      h("div.ports", { dataset: { testid: "engine-ports" } },
        (["rtsp", "hls", "webrtc", "api"] as const).map((k) => h("div.port", null, h("span", null, k === "rtsp" && st.tls ? "RTSPS" : k.toUpperCase()), h("strong", null, ports?.[k] ? String(ports[k]) : "—"))),
        h("div.port", null, h("span", null, "RTP/RTCP"), h("strong", { dataset: { testid: "engine-rtp" } }, ports?.rtp ? `${ports.rtp}/${ports.rtcp ?? ports.rtp + 1}` : "—"))),
      st.warnings?.length ? h("ul.notes.warn", null, st.warnings.map((w) => h("li", null, w))) : null,
      st.last_error ? h("div.notes.error", { dataset: { testid: "engine-error" } }, h("strong", null, "Last error: "), st.last_error) : null,
    );
    showMediaMTX(st);
    syncFast(st);
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

  async function download() {
    downloading = true;
    downloadErr = null;
    if (last) show(last);
    else syncFast(null);
    try {
      show(await api.engineDownload());
      toast("MediaMTX is installed");
    } catch (err) {
      downloadErr = errorText(err);
      toast("MediaMTX download failed", "error");
    } finally {
      downloading = false;
      if (last) show(last);
      poller.now();
    }
  }

  async function reclaim() {
    reclaiming = true;
    if (last) show(last);
    try {
      const n = last?.orphan_pids?.length ?? 0;
      show(await api.engineReclaim());
      toast(n ? `Stopped ${n} stray MediaMTX process${n === 1 ? "" : "es"}` : "No stray MediaMTX processes");
    } catch (err) {
      toast(`Reclaim failed: ${errorText(err)}`, "error");
    } finally {
      reclaiming = false;
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
    kindForm,
    body,
    mtx,
    h("div.actions", null, startBtn, stopBtn, restartBtn),
  );
  return { el, stop: () => { poller.stop(); stopFast() } };
}

export function engineForm(initial: EngineSettings, onSaved: (e: EngineSettings) => void): HTMLElement {
  let draft = structuredClone(initial);
  const banner = h("div.banner.error", { hidden: true });
  const portInput = (k: keyof EngineSettings["preferred_ports"]) =>
    h("input", { type: "number", min: "1", max: "65535", value: String(draft.preferred_ports[k] ?? ""), dataset: { port: k } });
  const ports = { rtsp: portInput("rtsp"), hls: portInput("hls"), webrtc: portInput("webrtc"), api: portInput("api"), rtp: portInput("rtp") };
  ports.rtp.step = "2";
  const lan = checkbox("Expose to LAN (readers listen on 0.0.0.0)", draft.expose_to_lan, "engine.expose_to_lan", (v) => { draft.expose_to_lan = v });
  const ice = h("textarea", { rows: 3, placeholder: "stun:stun.example.org:3478\nturn:user:pass@turn.example.org:3478", spellcheck: false }, (draft.webrtc_ice_servers ?? []).join("\n"));
  const hold = h("input", { type: "number", min: "1", max: "60", value: String(draft.reader_hold_seconds ?? 10) });
  const encoderChoice = select(draft.h264_encoder ?? "auto", [["auto", "Auto (hardware when it works, else libx264)"], ["libx264", "libx264 (CPU)"], ["h264_nvenc", "NVIDIA NVENC"], ["h264_vaapi", "VA-API (Intel/AMD)"], ["h264_qsv", "Intel Quick Sync"]], (v) => { draft.h264_encoder = v });
  encoderChoice.dataset.testid = "engine-h264-encoder";
  const hlsChoice = select<HLSVariant>(draft.hls_variant ?? "mpegts", [["mpegts", "MPEG-TS segments (plays everywhere)"], ["fmp4", "fMP4 segments"], ["lowLatency", "Low-Latency HLS (fMP4 parts)"]], (v) => { draft.hls_variant = v });
  hlsChoice.dataset.testid = "engine-hls-variant";
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
      field("RTP port (RTSP over UDP; RTCP is the next one)", ports.rtp, "engine.preferred_ports.rtp"),
    ),
    field("ICE servers (one per line)", ice, "engine.webrtc_ice_servers", "stun:, turn: or turns: URLs; the dashboard passes them to the browser too."),
    field("Reader hold (seconds)", hold, "engine.reader_hold_seconds", "How long a viewer waits for a stream that is starting."),
    field("H.264 encoder", encoderChoice, "engine.h264_encoder", "Probed once; an encoder that does not work here falls back to libx264 (the Encoders card shows what runs and the warning)."),
    field("HLS variant", hlsChoice, "engine.hls_variant", "Low-Latency HLS starts and follows live sooner in hls.js and Safari; a change makes HLS players reload."),
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
        preferred_ports: { rtsp: optInt(ports.rtsp.value), hls: optInt(ports.hls.value), webrtc: optInt(ports.webrtc.value), api: optInt(ports.api.value), rtp: optInt(ports.rtp.value) },
        webrtc_ice_servers: ice.value.split(/\r?\n/).map((s) => s.trim()).filter(Boolean),
        reader_hold_seconds: optInt(hold.value),
        h264_encoder: draft.h264_encoder ?? "auto",
        hls_variant: draft.hls_variant ?? "mpegts",
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
