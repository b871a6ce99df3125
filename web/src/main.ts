// Entry point: the nav bar and a history-API router between the Streams
// dashboard (/), the Settings panel (/settings), the API docs (/docs) and
// the player of one stream (/watch/{id or path}).
import "./styles.css";
import { mountDashboard } from "./dashboard/index";
import { mountWatch } from "./dashboard/watch";
import { mountDocs } from "./docs/index";
import { api } from "./api";
import { h, render } from "./dom";
import { mountSettings } from "./settings/index";

const routes: Record<string, { title: string; mount: (root: HTMLElement) => () => void }> = {
  "/": { title: "Streams", mount: mountDashboard },
  "/settings": { title: "Settings", mount: mountSettings },
  "/docs": { title: "API", mount: mountDocs },
};

const app = document.getElementById("app")!;
const view = h("main.view");
const links = Object.entries(routes).map(([path, r]) =>
  h("a.nav-link", { href: path, dataset: { link: "", testid: `nav-${r.title.toLowerCase()}` } }, r.title));
// Shown only when the page was opened through a login session.
const signOut = h("button.nav-link.sign-out", { type: "button", hidden: true, dataset: { testid: "sign-out" } }, "Sign out");
signOut.addEventListener("click", () => { api.logout().finally(() => location.reload()) });
api.session().then((s) => { signOut.hidden = !s.session }, () => { /* an older server: no logins */ });
render(app,
  h("nav.nav", null,
    h("a.brand", { href: "/", dataset: { link: "" } }, h("span.brand-mark"), h("span", null, "toposync"), h("span.brand-sub", null, "streaming")),
    h("div.nav-links", null, links, signOut),
  ),
  view,
);

let unmount: (() => void) | null = null;
function show(): void {
  const path = location.pathname.replace(/\/+$/, "") || "/";
  unmount?.();
  for (const d of document.querySelectorAll<HTMLDialogElement>("dialog[open]")) d.close();
  if (path.startsWith("/watch/")) {
    document.title = "Watch · toposync streaming";
    document.body.dataset.route = "watch";
    for (const a of links) a.classList.remove("active");
    unmount = mountWatch(view, decodeURIComponent(path.slice("/watch/".length)));
    return;
  }
  const route = routes[path] ?? routes["/"];
  document.title = `${route.title} · toposync streaming`;
  document.body.dataset.route = route.title.toLowerCase();
  for (const a of links) a.classList.toggle("active", a.getAttribute("href") === (routes[path] ? path : "/"));
  unmount = route.mount(view);
}

document.addEventListener("click", (e) => {
  const a = (e.target as Element).closest?.("a[data-link]") as HTMLAnchorElement | null;
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  if (a.origin !== location.origin) return;
  e.preventDefault();
  if (a.pathname !== location.pathname) {
    history.pushState(null, "", a.pathname);
    show();
  }
});
window.addEventListener("popstate", show);
show();
