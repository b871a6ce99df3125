// The inventory: cameras, pipelines and processing servers, each a card
// that says "not available" when the server lacks its endpoint, without
// affecting the rest of the page.
import { h } from "../dom";
import { camerasCard } from "./cameras";
import { pipelinesCard } from "./pipelines";
import { serversCard } from "./servers";
import { PIPELINES_CHANGED } from "./wizard";

export function inventory(): { el: HTMLElement; stop: () => void } {
  const cameras = camerasCard();
  const pipelines = pipelinesCard();
  const servers = serversCard();
  // The wizard created a pipeline: both lists change (the camera's consumers too).
  const changed = () => {
    cameras.refresh();
    pipelines.refresh();
  };
  document.addEventListener(PIPELINES_CHANGED, changed);
  return {
    el: h("div.inventory", null, cameras.el, pipelines.el, servers.el),
    stop: () => {
      cameras.stop();
      pipelines.stop();
      servers.stop();
      document.removeEventListener(PIPELINES_CHANGED, changed);
    },
  };
}
