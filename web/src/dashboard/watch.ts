// The player of one stream (/watch/{transmission id or path}): the
// dashboard's tile, full window, with the same WHEP-then-HLS player,
// credentials and reconnects.
import { api, errorText, type EngineStatus } from "../api";
import { h, render } from "../dom";
import { poll } from "../poll";
import { playerSettings } from "./player";
import { Tile, tileLabel } from "./tile";

export function mountWatch(root: HTMLElement, key: string): () => void {
  let engine: EngineStatus | null = null;
  let engineKey: string | null = null;
  let player = playerSettings(undefined);
  let tile: Tile | null = null;
  const env = { engine: () => engine, player: () => player };
  const title = h("h1", null, key);
  const holder = h("div.watch-player");
  const watch = h("div.watch", { dataset: { testid: "watch" } },
    h("div.watch-bar", null, h("a.btn", { href: "/", dataset: { link: "" } }, "← Streams"), title),
    holder);
  render(root, watch);

  const dataPoll = poll(async (signal) => {
    let message = "";
    try {
      const s = await api.settings(true);
      if (signal.aborted) return;
      player = playerSettings(s.engine);
      const t = (s.transmissions ?? []).find((x) => x.id === key || x.path === key);
      if (!t) {
        message = `No transmission has the id or path "${key}".`;
      } else if (tile) {
        tile.update(t);
      } else {
        tile = new Tile(t, env);
        tile.el.classList.add("watch-tile");
        render(holder, tile.el);
        tile.setVisible(true);
      }
      if (t) {
        title.textContent = title.title = tileLabel(t);
        document.title = `${tileLabel(t)} · toposync streaming`;
      }
    } catch (err) {
      if (!tile) message = `Cannot load the stream: ${errorText(err)}`;
    }
    if (message) {
      tile?.destroy();
      tile = null;
      render(holder, h("div.grid-empty", { dataset: { testid: "watch-missing" } }, h("p", null, message),
        h("p.muted", null, h("a", { href: "/", dataset: { link: "" } }, "All streams"))));
    }
  }, 15000);

  const enginePoll = poll(async (signal) => {
    engine = await api.engineStatus(signal);
    const k = JSON.stringify([engine.running, engine.ports, engine.started_at_unix]);
    if (engineKey !== null && k !== engineKey) tile?.engineChanged();
    engineKey = k;
  }, 4000);

  return () => {
    dataPoll.stop();
    enginePoll.stop();
    tile?.destroy();
  };
}
