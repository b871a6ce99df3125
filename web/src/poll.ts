// Polling that runs only while the page is visible, never overlaps itself,
// and keeps its pace when the server errors (no tight retry loops).

export interface Poller { stop(): void; now(): void }

export function poll(fn: (signal: AbortSignal) => Promise<void>, intervalMs: number): Poller {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  let again = false; // now() was called while fn ran: run once more right after
  let stopped = false;
  let ctrl: AbortController | undefined;

  const schedule = (ms: number) => {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(tick, ms);
  };
  const tick = async () => {
    if (stopped || running) return;
    if (document.visibilityState === "hidden") return; // resumed by the visibility listener
    running = true;
    ctrl = new AbortController();
    try {
      await fn(ctrl.signal);
    } catch {
      // the callback shows its own errors; the poll keeps its pace
    } finally {
      running = false;
    }
    schedule(again ? 0 : intervalMs);
    again = false;
  };
  const onVisible = () => {
    if (document.visibilityState === "visible") schedule(0);
  };
  document.addEventListener("visibilitychange", onVisible);
  schedule(0);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      ctrl?.abort();
      document.removeEventListener("visibilitychange", onVisible);
    },
    now() { if (running) again = true; else schedule(0) },
  };
}
