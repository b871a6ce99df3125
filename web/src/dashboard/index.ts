// The Streams dashboard: a 1x1 or 2x2 grid of tiles with pagination, one
// tile per enabled transmission, and an overlay that shows on activity.
import { api, errorText, type EngineStatus, type Transmission } from "../api";
import { h, icon, render, toast } from "../dom";
import { poll } from "../poll";
import { playerSettings } from "./player";
import { Tile } from "./tile";

const GRID_KEY = "toposync.streams.grid_mode.v1";
const OVERLAY_IDLE_MS = 2500;
type Grid = "1x1" | "2x2";
const PAGE_SIZE: Record<Grid, number> = { "1x1": 1, "2x2": 4 };

/** Phones, upright or on their side (the width matches styles.css's phone block). */
const PHONE_QUERY = "(max-width: 640px), (max-height: 500px)";

/** The user's stored choice, else 1x1 on a phone (four tiles leave each too
 *  small to watch) and 2x2 on larger screens. */
function savedGrid(): Grid {
  try {
    const v = localStorage.getItem(GRID_KEY);
    if (v === "1x1" || v === "2x2") return v;
  } catch { /* storage disabled */ }
  return matchMedia(PHONE_QUERY).matches ? "1x1" : "2x2";
}

export function mountDashboard(root: HTMLElement): () => void {
  let grid: Grid = savedGrid();
  let page = 0;
  let transmissions: Transmission[] | null = null;
  let loadError = "";
  let engine: EngineStatus | null = null;
  let engineKey: string | null = null;
  let player = playerSettings(undefined);
  const tiles = new Map<string, Tile>();

  const env = { engine: () => engine, player: () => player };

  const gridEl = h("div.grid", { dataset: { testid: "grid", grid } });
  const pageLabel = h("span.page-label", { dataset: { testid: "page-label" } });
  const prev = h("button.icon-btn", { type: "button", title: "Previous page", "aria-label": "Previous page", dataset: { testid: "page-prev" }, onclick: () => go(page - 1) }, icon("left"));
  const next = h("button.icon-btn", { type: "button", title: "Next page", "aria-label": "Next page", dataset: { testid: "page-next" }, onclick: () => go(page + 1) }, icon("right"));
  const gridBtn = (g: Grid, ic: "grid1" | "grid4") =>
    h("button.seg", { type: "button", title: `${g} grid`, dataset: { testid: `grid-${g}`, grid: g }, onclick: () => setGrid(g) }, icon(ic), g);
  const g1 = gridBtn("1x1", "grid1");
  const g4 = gridBtn("2x2", "grid4");
  const banner = h("div.dash-banner", { hidden: true, dataset: { testid: "dash-banner" } });
  const count = h("span.muted", { dataset: { testid: "stream-count" } });

  const bar = h("div.dash-bar", null,
    h("div.dash-title", null, h("h1", null, "Streams"), count),
    h("div.dash-tools", null,
      h("div.segmented", { role: "group", "aria-label": "Grid" }, g1, g4),
      h("div.pager", null, prev, pageLabel, next)),
  );
  const dash = h("div.dashboard", { dataset: { testid: "dashboard" } }, bar, banner, gridEl);
  render(root, dash);

  // Tiles play only while on screen.
  const io = new IntersectionObserver((entries) => {
    for (const e of entries) {
      const id = (e.target as HTMLElement).dataset.id;
      const t = id ? tiles.get(id) : undefined;
      t?.setVisible(e.isIntersecting);
    }
  }, { threshold: 0.15 });
  const onVisibility = () => {
    const v = document.visibilityState !== "hidden";
    for (const t of tiles.values()) t.setPageVisible(v);
    if (!v) setOverlay(false);
  };
  document.addEventListener("visibilitychange", onVisibility);

  // Overlay: shown on activity, hidden after 2.5 s idle.
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const setOverlay = (on: boolean) => dash.classList.toggle("overlay-on", on);
  const activity = () => {
    setOverlay(true);
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => setOverlay(false), OVERLAY_IDLE_MS);
  };
  window.addEventListener("mousemove", activity);
  window.addEventListener("keydown", activity);
  window.addEventListener("touchstart", activity, { passive: true });

  function enabled(): Transmission[] {
    return (transmissions ?? []).filter((t) => t.enabled !== false);
  }
  function pages(): number {
    return Math.max(1, Math.ceil(enabled().length / PAGE_SIZE[grid]));
  }
  function setGrid(g: Grid) {
    if (g === grid) return;
    grid = g;
    page = 0;
    try { localStorage.setItem(GRID_KEY, g) } catch { /* storage disabled */ }
    draw();
  }
  function go(p: number) {
    page = Math.min(Math.max(0, p), pages() - 1);
    draw();
  }

  function draw() {
    gridEl.dataset.grid = grid;
    g1.setAttribute("aria-pressed", String(grid === "1x1"));
    g4.setAttribute("aria-pressed", String(grid === "2x2"));
    const list = enabled();
    page = Math.min(page, pages() - 1);
    pageLabel.textContent = `${page + 1} / ${pages()}`;
    prev.disabled = page === 0;
    next.disabled = page >= pages() - 1;
    count.textContent = transmissions ? `${list.length} stream${list.length === 1 ? "" : "s"}` : "";

    if (transmissions === null) {
      render(gridEl, h("div.grid-empty", null, loadError ? `Cannot load transmissions: ${loadError}` : "Loading…"));
      return;
    }
    if (!list.length) {
      for (const t of tiles.values()) t.destroy();
      tiles.clear();
      render(gridEl, h("div.grid-empty", { dataset: { testid: "grid-empty" } },
        h("p", null, "No enabled transmissions."),
        h("p.muted", null, "Create one in ", h("a", { href: "/settings", dataset: { link: "" } }, "Settings"), ", then publish frames into it.")));
      return;
    }
    const size = PAGE_SIZE[grid];
    const shown = list.slice(page * size, page * size + size);
    const keep = new Set(shown.map((t) => t.id));
    for (const [id, tile] of tiles) {
      if (!keep.has(id)) {
        io.unobserve(tile.el);
        tile.destroy();
        tiles.delete(id);
      }
    }
    const cells: HTMLElement[] = shown.map((t) => {
      let tile = tiles.get(t.id);
      if (tile) tile.update(t);
      else {
        tile = new Tile(t, env);
        tiles.set(t.id, tile);
        io.observe(tile.el);
      }
      return tile.el;
    });
    while (cells.length < size) cells.push(h("div.tile.blank"));
    // Re-append in order; moving an element keeps its video playing.
    for (const [i, c] of cells.entries()) {
      if (gridEl.children[i] !== c) gridEl.insertBefore(c, gridEl.children[i] ?? null);
    }
    while (gridEl.children.length > cells.length) gridEl.lastElementChild!.remove();
  }

  function drawBanner() {
    if (engine && !engine.running) {
      const start = h("button.btn.primary", { type: "button", dataset: { testid: "dash-start-engine" } }, icon("play"), "Start engine");
      start.onclick = async () => {
        start.disabled = true;
        try {
          engine = await api.engineAction("start");
          engineUpdated();
        } catch (err) {
          toast(`Engine start failed: ${errorText(err)}`, "error");
          start.disabled = false;
        }
      };
      banner.hidden = false;
      render(banner, h("span", null, h("strong", null, "The engine is stopped."), " Nothing can play until it runs."), start);
    } else if (engine?.last_error) {
      banner.hidden = false;
      render(banner, h("span", null, h("strong", null, "Engine: "), engine.last_error));
    } else {
      banner.hidden = true;
    }
  }

  function engineUpdated() {
    const key = engine ? JSON.stringify([engine.running, engine.ports, engine.started_at_unix]) : "unknown";
    drawBanner();
    if (key !== engineKey) {
      const first = engineKey === null;
      engineKey = key;
      if (!first) for (const t of tiles.values()) t.engineChanged();
    }
  }

  const dataPoll = poll(async (signal) => {
    try {
      const s = await api.settings(true);
      if (signal.aborted) return;
      transmissions = s.transmissions ?? [];
      player = playerSettings(s.engine);
      loadError = "";
    } catch (err) {
      loadError = errorText(err);
    }
    draw();
  }, 15000);

  const enginePoll = poll(async (signal) => {
    // On an error the last known status stays: a blip must not restart tiles.
    engine = await api.engineStatus(signal);
    engineUpdated();
  }, 4000);

  draw();
  return () => {
    dataPoll.stop();
    enginePoll.stop();
    io.disconnect();
    clearTimeout(idleTimer);
    document.removeEventListener("visibilitychange", onVisibility);
    window.removeEventListener("mousemove", activity);
    window.removeEventListener("keydown", activity);
    window.removeEventListener("touchstart", activity);
    for (const t of tiles.values()) t.destroy();
    tiles.clear();
  };
}
