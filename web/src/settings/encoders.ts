// Encoders card: what H.264 encoder really runs for each output (codec,
// hardware or CPU, which outputs share it) and the fallback warning when
// the encoder engine.h264_encoder asked for could not be used. Polled from
// GET /runtime/outputs while visible.
import { api, errorText, type RuntimeOutput } from "../api";
import { h, render } from "../dom";
import { poll } from "../poll";

export function encodersCard(): { el: HTMLElement; stop: () => void } {
  const countEl = h("span.pill.off", { dataset: { testid: "encoders-count" } }, "…");
  const body = h("div.encoders-body", null, h("p.muted", null, "Loading…"));
  const el = h("section.card", { dataset: { testid: "encoders-card" } },
    h("header.card-head", null, h("h2", null, "Encoders"), countEl),
    body);

  const show = (outputs: RuntimeOutput[], names: Map<string, string>) => {
    const running = outputs.filter((o) => o.publisher_running);
    const encoders = new Set(running.map((o) => o.encoder_group ?? o.output_key)).size; // bypass: one per output
    countEl.textContent = `${encoders} running`;
    countEl.className = `pill ${encoders ? "ok" : "off"}`;
    if (!outputs.length) {
      render(body, h("p.muted", null, "No enabled outputs."));
      return;
    }
    const warnings = [...new Set(running.map((o) => o.publisher_encoder_warning).filter((w): w is string => !!w))];
    const rows = outputs.map((o) => {
      const partners = o.encoder_group === null ? [] : running.filter((p) => p !== o && p.encoder_group === o.encoder_group).map((p) => p.output_id);
      let what: (Node | string | null)[];
      if (!o.publisher_running) {
        what = [h("span.muted", null, o.publisher_last_error ? `not encoding: ${o.publisher_last_error}` : "not encoding (no viewer)")];
      } else {
        what = [
          h("strong", { dataset: { testid: "encoder-codec" } }, o.publisher_active_codec ?? "?"),
          h("span.pill", { class: o.publisher_hardware_accelerated ? "ok" : "off", dataset: { testid: "encoder-hardware" } }, o.publisher_hardware_accelerated ? "hardware" : "CPU"),
          o.encoder_group === null ? h("span.muted", null, "camera stream re-encoded (bypass)") : null,
          partners.length ? h("span.muted", { dataset: { testid: "encoder-shared" } }, `one encoder with ${partners.join(", ")}`) : null,
        ];
      }
      return h("li.encoder-row", { dataset: { testid: "encoder-row", output: o.output_key, running: String(o.publisher_running) } },
        h("div.er-head", null,
          h("span", null, h("strong", null, names.get(o.transmission_id) ?? o.transmission_id), ` · ${o.output_id} (${o.protocol})`),
          h("span.muted", null, o.publisher_pid ? `pid ${o.publisher_pid}` : "")),
        h("div.er-what", null, ...what));
    });
    render(body,
      warnings.length ? h("ul.notes.warn", { dataset: { testid: "encoder-warning" } }, warnings.map((w) => h("li", null, w))) : null,
      h("ul.encoder-list", null, rows));
  };

  const poller = poll(async (signal) => {
    try {
      const [rt, txs] = await Promise.all([api.runtimeOutputs(signal), api.transmissions(signal)]);
      show(rt.outputs, new Map(txs.map((t) => [t.id, t.name || t.path || t.id])));
    } catch (err) {
      if ((err as Error).name === "AbortError") throw err;
      countEl.textContent = "Unknown";
      countEl.className = "pill bad";
      render(body, h("div.notes.error", null, `Encoder status unavailable: ${errorText(err)}`));
    }
  }, 5000);
  return { el, stop: () => poller.stop() };
}
