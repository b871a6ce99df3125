// A dashboard tile: plays one transmission while it is visible, WHEP first
// and HLS as the fallback, reconnects by itself with capped backoff, and
// says plainly why it is not playing.
import { api, ApiError, errorText, type EngineStatus, type OutputURL, type Transmission } from "../api";
import { h, icon, render } from "../dom";
import { basicAuth, PlayError, playHLS, playWHEP, type PlayerSettings, type Session, type Transport } from "./player";

export interface TileEnv {
  engine(): EngineStatus | null;
  player(): PlayerSettings;
}

type State = "idle" | "connecting" | "playing" | "retrying" | "blocked";

const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 10000;
const WEBRTC_BLOCK_MS = 60000; // after ICE failed, go straight to HLS for this long
const STALL_MS = 6000;

export function tileLabel(t: Transmission, i = 0): string {
  return t.name || t.path || t.id || `stream-${i + 1}`;
}

export class Tile {
  readonly el: HTMLElement;
  private video: HTMLVideoElement;
  private msg: HTMLElement;
  private msgText: HTMLElement;
  private msgExtra: HTMLElement;
  private dot: HTMLElement;
  private labelEl: HTMLElement;
  private transportEl: HTMLElement;
  private noteEl: HTMLElement;
  private pipBtn: HTMLButtonElement;

  private state: State = "idle";
  private session: Session | null = null;
  private ctrl: AbortController | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stallTimer: ReturnType<typeof setInterval> | undefined;
  private countdown: ReturnType<typeof setInterval> | undefined;
  private failures = 0;
  private webrtcBlockedUntil = 0;
  private visible = false;
  private pageVisible = document.visibilityState !== "hidden";
  private inPiP = false;
  private destroyed = false;
  private key: string;

  constructor(private t: Transmission, private env: TileEnv) {
    this.key = tileKey(t);
    this.video = h("video", { muted: true, autoplay: true, playsInline: true, disablePictureInPicture: false });
    this.video.muted = true;
    this.video.setAttribute("playsinline", "");
    this.msgText = h("span");
    this.msgExtra = h("div.tile-extra");
    this.msg = h("div.tile-msg", { dataset: { testid: "tile-message" } }, h("span.spinner"), this.msgText, this.msgExtra);
    this.dot = h("span.dot");
    this.labelEl = h("span.tile-label", { title: tileLabel(t), dataset: { testid: "tile-label" } }, tileLabel(t));
    this.transportEl = h("span.transport", { dataset: { testid: "tile-transport" } });
    this.noteEl = h("span.tile-note", { dataset: { testid: "tile-note" } });
    this.pipBtn = h("button.icon-btn", { type: "button", title: "Picture in picture", "aria-label": "Picture in picture", dataset: { testid: "tile-pip" }, onclick: () => this.togglePiP() }, icon("pip"));
    const fsBtn = h("button.icon-btn", { type: "button", title: "Fullscreen", "aria-label": "Fullscreen", dataset: { testid: "tile-fullscreen" }, onclick: () => this.toggleFullscreen() }, icon("fullscreen"));
    this.el = h("div.tile", { dataset: { testid: "tile", id: t.id, state: "idle", transport: "" } },
      this.video,
      this.msg,
      h("div.overlay", { dataset: { testid: "tile-overlay" } },
        h("div.ov-top", null, this.dot, this.labelEl, this.transportEl),
        h("div.ov-bottom", null, this.noteEl, h("div.ov-actions", null,
          h("a.icon-btn", { href: `/watch/${encodeURIComponent(t.id)}`, title: "Open its player", "aria-label": "Open its player", dataset: { link: "", testid: "tile-watch" } }, icon("link")),
          this.pipBtn, fsBtn)),
      ),
    );
    this.video.addEventListener("enterpictureinpicture", () => { this.inPiP = true; this.activeChanged() });
    this.video.addEventListener("leavepictureinpicture", () => { this.inPiP = false; this.activeChanged() });
    this.video.addEventListener("dblclick", () => this.toggleFullscreen());
    // On a phone the tile takes the picture's shape (styles.css, --tile-ar).
    this.video.addEventListener("resize", () => {
      if (this.video.videoWidth && this.video.videoHeight) this.el.style.setProperty("--tile-ar", `${this.video.videoWidth} / ${this.video.videoHeight}`);
    });
    this.setStatus("idle", "Waiting to be on screen");
  }

  get id(): string { return this.t.id }

  /** A newer copy of the transmission: playback restarts only when what it plays changed. */
  update(t: Transmission): void {
    this.t = t;
    this.labelEl.textContent = this.labelEl.title = tileLabel(t);
    const key = tileKey(t);
    if (key !== this.key) {
      this.key = key;
      this.restart();
    }
  }

  /** The engine started, stopped, restarted or moved ports. */
  engineChanged(): void {
    this.webrtcBlockedUntil = 0;
    this.restart();
  }

  setVisible(v: boolean): void {
    this.visible = v;
    this.activeChanged();
  }

  setPageVisible(v: boolean): void {
    this.pageVisible = v;
    this.activeChanged();
  }

  destroy(): void {
    this.destroyed = true;
    this.stopPlayback();
    this.el.remove();
  }

  private active(): boolean {
    return !this.destroyed && ((this.visible && this.pageVisible) || this.inPiP);
  }

  private activeChanged(): void {
    if (this.active()) {
      if (this.state === "idle") this.schedule(0);
    } else if (this.state !== "idle") {
      this.stopPlayback();
      this.setStatus("idle", "Paused while not on screen");
    }
  }

  private restart(): void {
    this.stopPlayback();
    this.failures = 0;
    if (this.active()) this.schedule(0);
    else this.setStatus("idle", "Waiting to be on screen");
  }

  private stopPlayback(): void {
    clearTimeout(this.retryTimer);
    clearInterval(this.stallTimer);
    clearInterval(this.countdown);
    this.ctrl?.abort();
    this.ctrl = null;
    const s = this.session;
    this.session = null;
    s?.close();
  }

  private schedule(ms: number): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.attempt(), ms);
  }

  private retryLater(reason: string): void {
    if (!this.active()) return;
    const delay = Math.min(RETRY_BASE_MS * 2 ** this.failures, RETRY_MAX_MS) * (0.85 + Math.random() * 0.3);
    this.failures++;
    const until = Date.now() + delay;
    const tick = () => {
      if (this.state !== "retrying") return;
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      this.msgText.textContent = `${reason} — retrying in ${left} s`;
    };
    this.setStatus("retrying", "");
    tick();
    clearInterval(this.countdown);
    this.countdown = setInterval(() => (this.state === "retrying" ? tick() : clearInterval(this.countdown)), 500);
    this.schedule(delay);
  }

  private async attempt(): Promise<void> {
    if (!this.active()) {
      this.setStatus("idle", "Waiting to be on screen");
      return;
    }
    this.stopPlayback();
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    const signal = ctrl.signal;
    const eng = this.env.engine();
    if (eng && !eng.running) {
      this.setStatus("blocked", "Engine stopped", undefined, "Start the engine in Settings; the tile plays as soon as it runs.");
      return; // engineChanged() restarts us
    }
    this.setStatus("connecting", "Connecting…");

    let urls;
    try {
      urls = await api.urls(this.t.id, signal);
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError && err.status === 404) {
        this.setStatus("blocked", "This transmission no longer exists");
        return;
      }
      this.retryLater(`Server unreachable (${errorText(err)})`);
      return;
    }
    if (signal.aborted) return;
    if (!urls.engine_running) {
      this.setStatus("blocked", "Engine stopped", undefined, "Start the engine in Settings; the tile plays as soon as it runs.");
      return;
    }
    const whep = urls.outputs.find((o) => o.protocol === "webrtc");
    const hls = urls.outputs.find((o) => o.protocol === "hls");
    if (!whep && !hls) {
      this.setStatus("blocked", urls.outputs.length ? "No WebRTC or HLS output (only RTSP)" : "No enabled output",
        undefined, "Add a WebRTC or HLS output to this transmission in Settings.");
      return;
    }
    const whepAuth = whep && this.credentials(whep);
    const hlsAuth = hls && this.credentials(hls);
    if ((whep && whepAuth === null && (!hls || hlsAuth === null)) || (!whep && hlsAuth === null)) {
      this.askCredentials((whep && whepAuth === null ? whep : hls)!);
      return;
    }

    const { ice, holdMs, lowLatencyHLS } = this.env.player();
    let note = "";
    let lastErr: PlayError | null = null;
    let session: Session | null = null;

    if (whep && whepAuth !== null) {
      if (Date.now() < this.webrtcBlockedUntil && hls) {
        note = "WebRTC unreachable → using HLS";
      } else {
        try {
          session = await playWHEP(this.video, { url: whep.url, auth: whepAuth?.header, ice, holdMs, signal });
        } catch (err) {
          if (signal.aborted) return;
          lastErr = err instanceof PlayError ? err : new PlayError("media", errorText(err));
          if (lastErr.kind === "ice") {
            this.webrtcBlockedUntil = Date.now() + WEBRTC_BLOCK_MS;
            note = "WebRTC unreachable → using HLS";
          } else if (lastErr.kind === "auth") {
            note = "WebRTC refused the credentials";
          } else {
            note = `WebRTC failed (${lastErr.message}) → using HLS`;
          }
        }
      }
    }
    if (!session && hls && hlsAuth !== null) {
      if (signal.aborted) return;
      this.setStatus("connecting", whep ? "Connecting over HLS…" : "Connecting…", undefined, undefined, note);
      try {
        session = await playHLS(this.video, { url: hls.url, auth: hlsAuth?.header, user: hlsAuth?.user, pass: hlsAuth?.pass, holdMs, lowLatency: lowLatencyHLS, signal });
      } catch (err) {
        if (signal.aborted) return;
        lastErr = err instanceof PlayError ? err : new PlayError("media", errorText(err));
      }
    }
    if (signal.aborted) {
      session?.close();
      return;
    }
    if (!session) {
      const e = lastErr;
      if (e?.kind === "auth") {
        this.forgetCredentials(whep ?? hls!);
        this.setStatus("retrying", "");
        this.retryLater("Authentication failed");
      } else if (e?.kind === "unsupported") {
        this.setStatus("blocked", `Cannot play here: ${e.message}`);
      } else if (e?.kind === "ice" && !hls) {
        this.retryLater("WebRTC unreachable and no HLS output to fall back to");
      } else {
        this.retryLater(e ? shortReason(e) : "Playback failed");
      }
      return;
    }

    this.session = session;
    this.failures = 0;
    this.setStatus("playing", "", session.transport, undefined, session.transport === "HLS" ? note : "");
    session.onEnd((reason) => {
      if (this.session !== session) return;
      this.stopPlayback();
      this.retryLater(`Connection lost (${reason})`);
    });
    this.watchStall(session);
  }

  /** Ends a session whose picture stopped moving (a silent drop). */
  private watchStall(session: Session): void {
    let last = this.video.currentTime;
    let since = Date.now();
    clearInterval(this.stallTimer);
    this.stallTimer = setInterval(() => {
      if (this.session !== session) return;
      const now = this.video.currentTime;
      if (now !== last) {
        last = now;
        since = Date.now();
      } else if (Date.now() - since > STALL_MS) {
        this.stopPlayback();
        this.retryLater("Stream stalled");
      }
    }, 1000);
  }

  private credKey(o: OutputURL): string { return `toposync.streams.creds.${this.t.id}.${o.output_id}` }

  /** undefined: no auth needed; null: needed but unknown; else the credentials. */
  private credentials(o: OutputURL): { header: string; user: string; pass: string } | undefined | null {
    if (!o.requires_auth) return undefined;
    const out = this.t.outputs.find((x) => x.id === o.output_id);
    let user = out?.authentication?.username ?? o.auth_username ?? "";
    let pass = out?.authentication?.password ?? "";
    if (!pass) {
      try {
        const saved = JSON.parse(sessionStorage.getItem(this.credKey(o)) ?? "null") as { user: string; pass: string } | null;
        if (saved) ({ user, pass } = saved);
      } catch { /* nothing saved */ }
    }
    if (!user || !pass) return null;
    return { header: basicAuth(user, pass), user, pass };
  }

  private forgetCredentials(o: OutputURL): void {
    try { sessionStorage.removeItem(this.credKey(o)) } catch { /* ignore */ }
  }

  private askCredentials(o: OutputURL): void {
    const user = h("input", { type: "text", placeholder: "username", value: o.auth_username ?? "", autocomplete: "username" });
    const pass = h("input", { type: "password", placeholder: "password", autocomplete: "current-password" });
    const form = h("form.tile-login", null, user, pass, h("button.btn.primary", { type: "submit" }, "Play"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      try { sessionStorage.setItem(this.credKey(o), JSON.stringify({ user: user.value, pass: pass.value })) } catch { /* private mode */ }
      this.restart();
    });
    this.setStatus("blocked", "This stream needs a username and password");
    render(this.msgExtra, form);
  }

  private setStatus(state: State, text: string, transport?: Transport, hint?: string, note = ""): void {
    this.state = state;
    this.el.dataset.state = state;
    this.el.dataset.transport = transport ?? "";
    this.el.classList.toggle("is-playing", state === "playing");
    this.dot.className = `dot ${state === "playing" ? "ok" : state === "blocked" ? "bad" : state === "retrying" ? "warn" : "off"}`;
    this.transportEl.textContent = transport ?? (state === "connecting" ? "connecting" : state === "retrying" ? "reconnecting" : state === "blocked" ? "stopped" : "idle");
    this.noteEl.textContent = note;
    this.msg.hidden = state === "playing";
    this.msg.classList.toggle("busy", state === "connecting");
    if (text) this.msgText.textContent = text;
    render(this.msgExtra, hint ? h("small", null, hint) : null, note && state !== "playing" ? h("small.note", null, note) : null);
    this.pipBtn.hidden = !(document.pictureInPictureEnabled || "webkitSetPresentationMode" in this.video);
  }

  private async togglePiP(): Promise<void> {
    const v = this.video as HTMLVideoElement & { webkitSetPresentationMode?: (m: string) => void; webkitPresentationMode?: string };
    try {
      if (document.pictureInPictureElement === v) await document.exitPictureInPicture();
      else if (document.pictureInPictureEnabled) await v.requestPictureInPicture();
      else v.webkitSetPresentationMode?.(v.webkitPresentationMode === "picture-in-picture" ? "inline" : "picture-in-picture");
    } catch { /* not while nothing plays */ }
  }

  private toggleFullscreen(): void {
    if (document.fullscreenElement) void document.exitFullscreen().catch(() => {});
    else void this.el.requestFullscreen?.().catch(() => {});
  }
}

function shortReason(e: PlayError): string {
  if (e.kind === "timeout") return "The stream did not answer";
  if (e.kind === "http" && e.status === 404) return "No stream on this path";
  return e.message.length > 90 ? `${e.message.slice(0, 90)}…` : e.message;
}

/** What playback depends on in a transmission: a change restarts the tile. */
function tileKey(t: Transmission): string {
  return JSON.stringify([t.enabled, t.path, (t.outputs ?? []).map((o) => [o.id, o.protocol, o.enabled, o.path, o.authentication])]);
}
