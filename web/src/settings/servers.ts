// The processing servers card: the servers transmissions and pipelines
// can be hosted on; add, edit, delete. Passwords are write-only.
import { api, type ProcessingServer, type ServerDraft } from "../api";
import { h, modal } from "../dom";
import { confirmDelete, endpointFields, listCard, rowActions, submitForm, table, type ListCard } from "./crud";

const serverName = (s: ProcessingServer) => s.name || s.id;

export function serversCard(): ListCard {
  return listCard<ProcessingServer>({
    title: "Processing servers", testid: "servers", what: "processing servers", intervalMs: 15000, fetch: api.servers,
    add: { label: "Add server", testid: "server-add", onclick: (refresh) => editServer(null, refresh) },
    draw: (servers, refresh) => servers.length ? table(["Server", "URL", "Login", ""], servers.map((s) => h("tr", { dataset: { testid: "server-row", id: s.id } },
      h("td", null, h("strong", { dataset: { testid: "server-name" } }, serverName(s)), h("div.muted.small", null, s.id)),
      h("td", null, h("code.small", null, s.url)),
      h("td", null, s.username ? `${s.username}${s.password_set ? " · password set" : ""}` : "—"),
      rowActions(`processing server ${serverName(s)}`, () => editServer(s, refresh), () => confirmDelete("processing server", serverName(s),
        "Transmissions and pipelines can no longer be hosted on it.", () => api.deleteServer(s.id), refresh)))))
      : h("p.muted", null, "No processing servers: everything runs on this server."),
  });
}

function editServer(existing: ProcessingServer | null, saved: () => void): void {
  const ep = endpointFields("server", existing, { name: "Edge box 1", url: "http://10.0.0.5:8100",
    urlHint: "The server's API address: http:// or https://, host and port, without credentials.", idHint: "Its host_server_id; derived from the name when empty." });
  const banner = h("div.banner.error", { hidden: true, dataset: { testid: "form-banner" } });
  const save = h("button.btn.primary", { type: "submit", dataset: { testid: "server-save" } }, existing ? "Save changes" : "Add server");
  const cancel = h("button.btn", { type: "button" }, "Cancel");
  const form = h("form.inv-form", { novalidate: true, dataset: { testid: "server-form" } },
    banner,
    ep.el,
    h("div.actions.end", null, cancel, save));
  const m = modal(existing ? `Edit processing server ${serverName(existing)}` : "Add processing server", form, { wide: true, testid: "server-modal" });
  cancel.onclick = m.close;
  submitForm(form, banner, save, async () => {
    const d: ServerDraft = ep.members();
    const s = existing ? await api.updateServer(existing.id, d) : await api.createServer(d);
    return existing ? `Saved ${serverName(s)}` : `Added ${serverName(s)}`;
  }, m.close, saved);
}
