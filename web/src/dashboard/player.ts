// One playback session on a <video>: WHEP (WebRTC) or HLS. Each function
// makes one attempt and resolves once media is flowing; the tile decides
// about retries and fallbacks. A session reports its end (a dropped
// connection, a fatal HLS error) through onEnd, once.

import type HlsType from "hls.js";
import type { EngineSettings } from "../api";

export type Transport = "WebRTC" | "HLS";

export interface Session {
  transport: Transport;
  /** Called once when the session ends by itself (not after close()). */
  onEnd(cb: (reason: string) => void): void;
  /** Tears the session down: DELETE on the WHEP resource, peer connection closed, video cleared. */
  close(): void;
}

/** Why an attempt failed; kind drives the tile's next move. */
export class PlayError extends Error {
  constructor(
    readonly kind: "auth" | "ice" | "http" | "timeout" | "media" | "unsupported" | "aborted",
    message: string,
    readonly status = 0,
  ) {
    super(message);
  }
}

export function basicAuth(user: string, pass: string): string {
  const bytes = new TextEncoder().encode(`${user}:${pass}`);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return `Basic ${btoa(bin)}`;
}

/** SDP with every line ending CRLF and a trailing CRLF (MediaMTX's parser insists). */
export function crlf(sdp: string): string {
  const lines = sdp.replace(/\r\n/g, "\n").replace(/\r/g, "\n").split("\n");
  while (lines.length && lines[lines.length - 1] === "") lines.pop();
  return lines.join("\r\n") + "\r\n";
}

/** What players take from the engine settings (GET /settings engine), read by the dashboard and /watch. */
export interface PlayerSettings { ice: RTCIceServer[]; holdMs: number; lowLatencyHLS: boolean }

export function playerSettings(e: EngineSettings | undefined): PlayerSettings {
  return {
    ice: iceServers(e?.webrtc_ice_servers ?? []),
    holdMs: (e?.reader_hold_seconds ?? 10) * 1000,
    lowLatencyHLS: e?.hls_variant === "lowLatency",
  };
}

/**
 * ICE servers for RTCPeerConnection from the engine's settings. A URL of the
 * form turn:user:pass@host:port carries credentials: they are split into
 * username and credential, since browsers refuse them inside the URL.
 */
export function iceServers(urls: string[]): RTCIceServer[] {
  const out: RTCIceServer[] = [];
  for (const raw of urls ?? []) {
    const m = /^(stuns?|turns?):(?:([^@/?]*)@)?(.+)$/i.exec(raw.trim());
    if (!m) continue;
    const [, scheme, cred, rest] = m;
    if (cred) {
      const i = cred.indexOf(":");
      const user = decodeURIComponent(i < 0 ? cred : cred.slice(0, i));
      const pass = i < 0 ? "" : decodeURIComponent(cred.slice(i + 1));
      out.push({ urls: `${scheme}:${rest}`, username: user, credential: pass });
    } else {
      out.push({ urls: `${scheme}:${rest}` });
    }
  }
  return out;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(t); reject(new PlayError("aborted", "aborted")) }, { once: true });
  });

/** Resolves when the video shows frames (time advancing), rejects after ms. */
function waitFrames(video: HTMLVideoElement, ms: number, signal: AbortSignal, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = video.currentTime;
    const done = (err?: PlayError) => {
      clearInterval(iv);
      clearTimeout(to);
      signal.removeEventListener("abort", onAbort);
      if (err) reject(err); else resolve();
    };
    const iv = setInterval(() => {
      if (video.readyState >= 2 && video.currentTime > start) done();
    }, 100);
    const to = setTimeout(() => done(new PlayError("media", `${what}: no video arrived within ${Math.round(ms / 1000)} s`)), ms);
    const onAbort = () => done(new PlayError("aborted", "aborted"));
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function resetVideo(video: HTMLVideoElement): void {
  video.pause();
  video.srcObject = null;
  video.removeAttribute("src");
  video.load();
}

export interface WhepOptions {
  url: string;
  auth?: string;
  ice: RTCIceServer[];
  /** How long the server may hold the POST while the publisher starts. */
  holdMs: number;
  signal: AbortSignal;
}

/** Plays url over WHEP: recvonly video+audio, CRLF SDP, Basic auth, DELETE on close. */
export async function playWHEP(video: HTMLVideoElement, o: WhepOptions): Promise<Session> {
  if (typeof RTCPeerConnection === "undefined") throw new PlayError("unsupported", "this browser has no WebRTC");
  const pc = new RTCPeerConnection({ iceServers: o.ice });
  let location: string | null = null;
  let closed = false;
  const endCbs: ((r: string) => void)[] = [];
  let ended = false;
  const end = (reason: string) => {
    if (ended || closed) return;
    ended = true;
    for (const cb of endCbs) cb(reason);
  };
  const headers = (extra: Record<string, string> = {}) => (o.auth ? { ...extra, Authorization: o.auth } : extra);

  const teardown = () => {
    if (closed) return;
    closed = true;
    if (location) {
      // best effort: the engine also ends the session when ICE goes away
      fetch(location, { method: "DELETE", headers: headers(), keepalive: true }).catch(() => {});
    }
    pc.close();
    resetVideo(video);
  };

  try {
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    const stream = new MediaStream();
    pc.ontrack = (ev) => {
      const src = ev.streams[0];
      if (src && video.srcObject !== src) video.srcObject = src;
      else if (!src) { stream.addTrack(ev.track); video.srcObject = stream }
    };

    await pc.setLocalDescription(await pc.createOffer());
    await gatherComplete(pc, 3000, o.signal);
    const offer = pc.localDescription?.sdp ?? "";
    if (!/^a=candidate:/m.test(offer)) {
      // Without one local candidate no connection can ever form (UDP blocked
      // by policy, no network): say so at once instead of timing out.
      throw new PlayError("ice", "WebRTC unreachable: the browser offers no ICE candidates");
    }

    const ctrl = new AbortController();
    const onAbort = () => ctrl.abort();
    o.signal.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => ctrl.abort(), o.holdMs + 5000);
    let resp: Response;
    try {
      resp = await fetch(o.url, {
        method: "POST",
        headers: headers({ Accept: "application/sdp", "Content-Type": "application/sdp" }),
        body: crlf(offer),
        signal: ctrl.signal,
        cache: "no-store",
      });
    } catch (err) {
      if (o.signal.aborted) throw new PlayError("aborted", "aborted");
      throw ctrl.signal.aborted
        ? new PlayError("timeout", "WHEP endpoint did not answer in time")
        : new PlayError("http", `WHEP endpoint unreachable (${(err as Error).message})`);
    } finally {
      clearTimeout(timer);
      o.signal.removeEventListener("abort", onAbort);
    }
    const text = await resp.text().catch(() => "");
    if (resp.status === 401 || resp.status === 403) throw new PlayError("auth", "the WebRTC output refused the credentials", resp.status);
    if (!resp.ok) throw new PlayError("http", `WHEP negotiation failed (${resp.status})${text ? `: ${text.slice(0, 200)}` : ""}`, resp.status);
    if (!text.trim()) throw new PlayError("http", "WHEP answer is empty", resp.status);
    const loc = resp.headers.get("Location");
    if (loc) location = new URL(loc, o.url).toString();

    await pc.setRemoteDescription({ type: "answer", sdp: crlf(text) });
    await connected(pc, 8000, o.signal);
    void video.play().catch(() => {});
    await waitFrames(video, 10000, o.signal, "WebRTC");
  } catch (err) {
    teardown();
    if (err instanceof PlayError) throw err;
    throw new PlayError("media", (err as Error).message || String(err));
  }

  // Watch the connection: a drop ends the session (the tile reconnects).
  let discTimer: ReturnType<typeof setTimeout> | undefined;
  pc.addEventListener("connectionstatechange", () => {
    const s = pc.connectionState;
    clearTimeout(discTimer);
    if (s === "failed" || s === "closed") end(`WebRTC connection ${s}`);
    else if (s === "disconnected") discTimer = setTimeout(() => end("WebRTC connection lost"), 3000);
  });
  return {
    transport: "WebRTC",
    onEnd: (cb) => { endCbs.push(cb) },
    close: () => { clearTimeout(discTimer); teardown() },
  };
}

function gatherComplete(pc: RTCPeerConnection, ms: number, signal: AbortSignal): Promise<void> {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(t);
      pc.removeEventListener("icegatheringstatechange", check);
      signal.removeEventListener("abort", abort);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === "complete") done() };
    const abort = () => { clearTimeout(t); reject(new PlayError("aborted", "aborted")) };
    const t = setTimeout(done, ms); // use what was gathered so far
    pc.addEventListener("icegatheringstatechange", check);
    signal.addEventListener("abort", abort, { once: true });
  });
}

function connected(pc: RTCPeerConnection, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const finish = (err?: PlayError) => {
      clearTimeout(t);
      pc.removeEventListener("connectionstatechange", check);
      pc.removeEventListener("iceconnectionstatechange", check);
      signal.removeEventListener("abort", abort);
      if (err) reject(err); else resolve();
    };
    const check = () => {
      const s = pc.connectionState, i = pc.iceConnectionState;
      if (s === "connected" || i === "connected" || i === "completed") finish();
      else if (s === "failed" || s === "closed" || i === "failed") finish(new PlayError("ice", "WebRTC unreachable: ICE could not connect"));
    };
    const abort = () => finish(new PlayError("aborted", "aborted"));
    const t = setTimeout(() => finish(new PlayError("ice", "WebRTC unreachable: ICE did not connect in time")), ms);
    pc.addEventListener("connectionstatechange", check);
    pc.addEventListener("iceconnectionstatechange", check);
    signal.addEventListener("abort", abort, { once: true });
    check();
  });
}

let hlsModule: Promise<typeof HlsType> | null = null;
const loadHls = () => (hlsModule ??= import("hls.js").then((m) => m.default));

/** lowLatency: the engine serves Low-Latency HLS (engine.hls_variant), so hls.js follows its parts. */
export interface HlsOptions { url: string; auth?: string; user?: string; pass?: string; holdMs: number; lowLatency: boolean; signal: AbortSignal }

/** Which HLS player this browser gets: hls.js where Media Source works (headers on every request), else native. */
export async function hlsMode(): Promise<"hlsjs" | "native" | "none"> {
  const Hls = await loadHls().catch(() => null);
  if (Hls?.isSupported()) return "hlsjs";
  const probe = document.createElement("video");
  return probe.canPlayType("application/vnd.apple.mpegurl") ? "native" : "none";
}

/** Plays url over HLS; resolves once frames are showing. */
export async function playHLS(video: HTMLVideoElement, o: HlsOptions): Promise<Session> {
  const mode = await hlsMode();
  if (o.signal.aborted) throw new PlayError("aborted", "aborted");
  if (mode === "none") throw new PlayError("unsupported", "this browser cannot play HLS");
  const endCbs: ((r: string) => void)[] = [];
  let closed = false, ended = false;
  const end = (reason: string) => {
    if (ended || closed) return;
    ended = true;
    for (const cb of endCbs) cb(reason);
  };

  if (mode === "native") {
    // <video> cannot send headers: credentials go into the URL.
    const u = new URL(o.url);
    if (o.user) { u.username = o.user; u.password = o.pass ?? "" }
    const onError = () => end(`HLS error ${video.error?.code ?? ""}`.trim());
    video.addEventListener("error", onError);
    video.src = u.toString();
    void video.play().catch(() => {});
    const close = () => {
      if (closed) return;
      closed = true;
      video.removeEventListener("error", onError);
      resetVideo(video);
    };
    try {
      await waitFrames(video, o.holdMs + 15000, o.signal, "HLS");
    } catch (err) {
      close();
      throw err;
    }
    return { transport: "HLS", onEnd: (cb) => { endCbs.push(cb) }, close };
  }

  const Hls = await loadHls();
  const retry = { maxNumRetry: 2, retryDelayMs: 1000, maxRetryDelayMs: 4000 };
  // Low-Latency HLS: hls.js loads parts with blocking playlist reloads and
  // keeps the server's PART-HOLD-BACK behind live. Segment variants: stay
  // two segments behind live (hls.js's default is three).
  const hls = new Hls({
    enableWorker: true,
    lowLatencyMode: o.lowLatency,
    backBufferLength: 30,
    liveSyncDurationCount: 2,
    manifestLoadPolicy: { default: { maxTimeToFirstByteMs: o.holdMs + 10000, maxLoadTimeMs: o.holdMs + 15000, timeoutRetry: { maxNumRetry: 1, retryDelayMs: 0, maxRetryDelayMs: 0 }, errorRetry: retry } },
    playlistLoadPolicy: { default: { maxTimeToFirstByteMs: 10000, maxLoadTimeMs: 15000, timeoutRetry: retry, errorRetry: retry } },
    xhrSetup: (xhr) => { if (o.auth) xhr.setRequestHeader("Authorization", o.auth) },
  });
  let failed: PlayError | null = null;
  hls.on(Hls.Events.ERROR, (_e, data) => {
    if (!data.fatal) return;
    const status = data.response?.code ?? 0;
    const err = status === 401 || status === 403
      ? new PlayError("auth", "the HLS output refused the credentials", status)
      : new PlayError("media", `HLS ${data.type}: ${data.details}${status ? ` (${status})` : ""}`, status);
    failed ??= err;
    end(err.message);
  });
  hls.on(Hls.Events.MANIFEST_PARSED, () => { void video.play().catch(() => {}) });
  const close = () => {
    if (closed) return;
    closed = true;
    hls.destroy();
    resetVideo(video);
  };
  hls.attachMedia(video);
  hls.loadSource(o.url);
  try {
    await Promise.race([
      waitFrames(video, o.holdMs + 20000, o.signal, "HLS"),
      new Promise<never>((_, reject) => { endCbs.push(() => reject(failed ?? new PlayError("media", "HLS failed"))) }),
    ]);
  } catch (err) {
    close();
    throw err;
  }
  endCbs.length = 0;
  return { transport: "HLS", onEnd: (cb) => { endCbs.push(cb) }, close };
}

export { sleep };
