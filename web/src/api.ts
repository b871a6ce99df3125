// The service's public HTTP API, typed. Every call goes through request(),
// which turns non-2xx answers into ApiError with the server's `detail`.

export const API = "/api/streams";

/** rtp: the RTSP UDP RTP port (even; RTCP is rtp+1); rtcp only in the engine status. */
export interface Ports { rtsp: number; hls: number; webrtc: number; api: number; rtp?: number; rtcp?: number }

/** password is null in answers unless secrets are asked for; password_set tells whether one is stored. */
export interface Authentication { enabled: boolean; username: string | null; password: string | null; password_set?: boolean }

export interface Output {
  id: string;
  protocol: "hls" | "rtsp" | "webrtc";
  enabled: boolean;
  resolution: { width: number; height: number } | null;
  fps_limit: number | null;
  bitrate_kbps: number | null;
  latency_profile: "normal" | "low" | "ultra_low";
  authentication: Authentication | null;
  /** Pins the engine path (so the URL); absent: the server's rule (see urls/preview). */
  path?: string | null;
  [extra: string]: unknown;
}

export interface Transmission {
  id: string;
  name: string;
  path: string;
  enabled: boolean;
  host_server_id: string;
  placeholder: "gray" | "black";
  arbitration: "latest" | "priority_latest";
  camera_controls: { enabled: boolean; camera_id: string | null } | null;
  outputs: Output[];
  created_at?: string;
  updated_at?: string;
  [extra: string]: unknown;
}

export interface EngineSettings {
  kind: string;
  enabled: boolean;
  expose_to_lan: boolean;
  preferred_ports: Ports;
  mediamtx_version: string;
  webrtc_ice_servers: string[];
  reader_hold_seconds: number;
  h264_encoder?: string;
  hls_variant?: HLSVariant;
}

/** engine.hls_variant: how both engines serve HLS. */
export type HLSVariant = "mpegts" | "fmp4" | "lowLatency";

export interface Settings { transmissions: Transmission[]; engine: EngineSettings; runtime: Record<string, number> }

/** Progress of the engine program's download; bytes_total is -1 while unknown. */
export interface EngineDownload { active: boolean; bytes_done: number; bytes_total: number; error?: string }

export interface EngineStatus {
  running: boolean;
  pid: number | null;
  uptime_seconds: number | null;
  started_at_unix: number | null;
  bind_host: string;
  ports: Ports;
  last_error: string | null;
  kind: string;
  restart_count: number;
  generation: number;
  /** The engine serves RTSPS and HTTPS (its URLs say so). */
  tls: boolean;
  mediamtx_version: string;
  platform: string;
  binary_path: string | null;
  config_path: string | null;
  log_path: string | null;
  orphan_pids: number[];
  download: EngineDownload;
  test_path: string;
  urls: { rtsp_url: string; hls_url: string; webrtc_url: string };
  warnings: string[];
}

export interface OutputURL {
  output_id: string;
  protocol: "hls" | "rtsp" | "webrtc";
  resolved_engine_path: string;
  url: string;
  requires_auth: boolean;
  auth_username: string | null;
}

export interface TransmissionURLs { transmission_id: string; engine_running: boolean; outputs: OutputURL[]; warnings: string[] }

/** A saved output whose URL an edit would change. */
export interface URLChange { output_id: string; protocol: Output["protocol"]; old_engine_path: string; new_engine_path: string; old_url: string; new_url: string }
export interface URLPreview extends TransmissionURLs { changes: URLChange[] }

export interface CameraConsumer { name: string; kind: "frames" | "access_units"; width?: number; height?: number; fps_limit?: number; delivered: number; dropped: number }
export interface CameraDecoder { width: number; height: number; own_size: boolean; consumers: number; running: boolean; restarts: number; last_error?: string; frames: number; dropped_access_units: number; latency_ms: number }
/** A camera's live state; the hub's fields only for RTSP cameras (files and testsrc are read by each pipeline's own ffmpeg). */
export interface CameraStatus {
  input: "rtsp" | "file" | "testsrc" | "refused";
  connected?: boolean; width?: number; height?: number; fps?: number; bitrate_kbps?: number; last_error?: string | null;
  sessions_opened?: number; consumers?: CameraConsumer[]; decoders?: CameraDecoder[];
}
export interface Camera { id: string; name: string; url: string; username: string | null; password_set: boolean; fps: number | null; status?: CameraStatus }
export type RunMode = "always" | "on_demand";
export interface Pipeline { name: string; enabled: boolean; processing_server_id: string | null; run_mode?: RunMode; graph: unknown; status?: PipelineStatus }
/** A camera or processing server as a form sends it: password omitted keeps the stored one, null clears it. */
export interface EndpointDraft { id?: string; name: string; url: string; username: string | null; password?: string | null }
export interface CameraDraft extends EndpointDraft { fps: number | null }
export type ServerDraft = EndpointDraft;
export interface ProcessingServer { id: string; name: string; url: string; username: string | null; password_set: boolean }
export interface PipelineStatus { name: string; running: boolean; state?: "running" | "failing" | "resting" | "stopped"; state_detail?: string | null; fps_in: number | null; fps_out: number | null; last_error: string | null; restarts: number }
export interface WizardResult { pipeline_name: string; transmission_id: string; camera_id: string; preset_id: string; engine_running: boolean; warnings: string[] }

/** One output in GET /runtime/outputs. Outputs with the same encoder_group share one encoder (null: bypass). */
export interface RuntimeOutput {
  output_key: string;
  output_id: string;
  transmission_id: string;
  protocol: "hls" | "rtsp" | "webrtc";
  viewer_count: number;
  publisher_running: boolean;
  publisher_pid: number | null;
  publisher_last_error: string | null;
  /** What really runs, after any fallback. */
  publisher_active_codec: string | null;
  publisher_hardware_accelerated: boolean;
  /** Why what runs is not what engine.h264_encoder asked for. */
  publisher_encoder_warning: string | null;
  encoder_group: string | null;
}

/** One FastAPI-style validation error. */
export interface FieldError { loc: (string | number)[]; msg: string; type: string }

export class ApiError extends Error {
  /** loc: the request field a text detail is about (FastAPI-style, "body" first), when the server names one. */
  constructor(
    readonly status: number,
    readonly detail: string | FieldError[],
    readonly loc: (string | number)[] | null = null,
  ) {
    super(typeof detail === "string" ? detail : detail.map((e) => `${e.loc.filter((p) => p !== "body").join(".")}: ${e.msg}`).join("; "));
  }
  /** The validation errors of a 422, else []. */
  get fieldErrors(): FieldError[] { return Array.isArray(this.detail) ? this.detail : [] }
}

export async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const resp = await send(method, path, "application/json", body, signal);
  const json = await resp.json().catch(() => undefined);
  if (json === undefined) throw new ApiError(resp.status, "The server answered something that is not JSON");
  return json as T;
}

/** send() makes a request and throws ApiError (with the server's detail) unless the answer is 2xx. */
async function send(method: string, path: string, accept: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  // X-Requested-With: a 401 then carries no Basic challenge, so the browser
  // shows no dialog of its own; the reload below brings the login page.
  const init: RequestInit = { method, headers: { Accept: accept, "X-Requested-With": "toposync-ui" }, signal, cache: "no-store" };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
  }
  let resp: Response;
  try {
    resp = await fetch(path, init);
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError(0, "The server cannot be reached");
  }
  if (resp.status === 401 && !path.startsWith("/api/auth/")) {
    // The login expired (or the service restarted): the server answers
    // this page with its login form.
    location.reload();
  }
  if (!resp.ok) {
    const type = resp.headers.get("content-type") ?? "";
    const json = type.includes("json") ? await resp.json().catch(() => undefined) : undefined;
    const body = json && typeof json === "object" && "detail" in json ? (json as { detail: string | FieldError[]; loc?: unknown }) : null;
    throw new ApiError(resp.status, body ? body.detail : `${resp.status} ${resp.statusText}`, body && Array.isArray(body.loc) ? body.loc as (string | number)[] : null);
  }
  return resp;
}

const enc = encodeURIComponent;

export const api = {
  /** withSecrets: the output passwords too (the dashboard plays protected outputs with them). */
  settings: (withSecrets = false) => request<Settings>("GET", `${API}/settings${withSecrets ? "?include_secrets=true" : ""}`),
  session: () => request<{ auth_required: boolean; authenticated: boolean; session: boolean }>("GET", "/api/auth/session"),
  logout: () => request<{ authenticated: boolean }>("POST", "/api/auth/logout"),
  patchSettings: (patch: unknown) => request<Settings>("PATCH", `${API}/settings`, patch),
  engineStatus: (signal?: AbortSignal) => request<EngineStatus>("GET", `${API}/engine/status`, undefined, signal),
  engineAction: (action: "start" | "stop" | "restart") => request<EngineStatus>("POST", `${API}/engine/${action}`),
  engineDownload: () => request<EngineStatus>("POST", `${API}/engine/download`),
  engineReclaim: () => request<EngineStatus>("POST", `${API}/engine/reclaim`),
  transmissions: (signal?: AbortSignal) => request<Transmission[]>("GET", `${API}/transmissions`, undefined, signal),
  createTransmission: (t: unknown) => request<Transmission>("POST", `${API}/transmissions`, t),
  updateTransmission: (id: string, t: unknown) => request<Transmission>("PUT", `${API}/transmissions/${enc(id)}`, t),
  deleteTransmission: (id: string) => request<{ deleted: boolean }>("DELETE", `${API}/transmissions/${enc(id)}`),
  urls: (id: string, signal?: AbortSignal) => request<TransmissionURLs>("GET", `${API}/transmissions/${enc(id)}/urls`, undefined, signal),
  /** What saving t would do to the URLs; checked like the save, nothing saved. */
  previewURLs: (id: string, t: unknown) => request<URLPreview>("POST", `${API}/transmissions/${enc(id)}/urls/preview`, t),
  runtimeOutputs: (signal?: AbortSignal) => request<{ outputs: RuntimeOutput[] }>("GET", `${API}/runtime/outputs`, undefined, signal),
  prime: (id: string) => request<{ primed: boolean; primed_outputs: number }>("POST", `${API}/transmissions/${enc(id)}/demand/prime`),
  cameras: () => request<Camera[]>("GET", "/api/cameras"),
  createCamera: (c: CameraDraft) => request<Camera>("POST", "/api/cameras", c),
  updateCamera: (id: string, c: CameraDraft) => request<Camera>("PUT", `/api/cameras/${enc(id)}`, c),
  deleteCamera: (id: string) => request<{ deleted: boolean }>("DELETE", `/api/cameras/${enc(id)}`),
  /** One decoded frame of a camera draft, as a JPEG. */
  testCamera: async (c: CameraDraft, width: number, signal?: AbortSignal) => (await send("POST", `/api/cameras/test?width=${width}`, "image/jpeg, application/json", c, signal)).blob(),
  pipelines: () => request<Pipeline[]>("GET", "/api/pipelines"),
  updatePipeline: (name: string, p: Pipeline) => request<Pipeline>("PUT", `/api/pipelines/${enc(name)}`, p),
  deletePipeline: (name: string) => request<{ deleted: boolean }>("DELETE", `/api/pipelines/${enc(name)}`),
  servers: () => request<ProcessingServer[]>("GET", "/api/processing-servers"),
  createServer: (p: ServerDraft) => request<ProcessingServer>("POST", "/api/processing-servers", p),
  updateServer: (id: string, p: ServerDraft) => request<ProcessingServer>("PUT", `/api/processing-servers/${enc(id)}`, p),
  deleteServer: (id: string) => request<{ deleted: boolean }>("DELETE", `/api/processing-servers/${enc(id)}`),
  pipelineStatus: (name: string) => request<PipelineStatus>("GET", `/api/pipelines/${enc(name)}/status`),
  wizard: (body: unknown) => request<WizardResult>("POST", `${API}/wizard/create-pipeline`, body),
};

/** True when err says the endpoint does not exist on this server. */
export function isMissing(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 404 || err.status === 405);
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
