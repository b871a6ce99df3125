// The processing servers card: the servers transmissions and pipelines
// can be hosted on; add, edit, delete. Passwords are write-only.
import { api, type ProcessingServer, type ServerDraft } from "../api";
import { h, modal, render, toast } from "../dom";
import { field, FormErrors } from "../forms";
import { poll } from "../poll";
import { card, confirmDelete, orNull, rowActions, secretFields, table, textInput, unavailable } from "./crud";

const serverName = (s: ProcessingServer) => s.name || s.id;

export function serversCard(): { el: HTMLElement; refresh: () => void; stop: () => void } {
  const list = h("div.inv-body", { dataset: { testid: "servers" } }, h("p.muted", null, "Loading…"));
  const load = async () => {
    let servers: ProcessingServer[];
    try {
      servers = await api.servers();
    } catch (err) {
      render(list, unavailable("processing servers", err));
      return;
    }
    render(list, servers.length ? table(["Server", "URL", "Login", ""], servers.map((s) => h("tr", { dataset: { testid: "server-row", id: s.id } },
      h("td", null, h("strong", { dataset: { testid: "server-name" } }, serverName(s)), h("div.muted.small", null, s.id)),
      h("td", null, h("code.small", null, s.url)),
      h("td", null, s.username ? `${s.username}${s.password_set ? " · password set" : ""}` : "—"),
      rowActions(`processing server ${serverName(s)}`, () => editServer(s, p.now), () => confirmDelete("processing server", serverName(s),
        "Transmissions and pipelines can no longer be hosted on it.", () => api.deleteServer(s.id), p.now)))))
      : h("p.muted", null, "No processing servers: everything runs on this server."));
  };
  const p = poll(load, 15000);
  const el = card("Processing servers", list, { label: "Add server", testid: "server-add", onclick: () => editServer(null, p.now) });
  return { el, refresh: p.now, stop: p.stop };
}

function editServer(existing: ProcessingServer | null, saved: () => void): void {
  const name = textInput(existing?.name ?? "", { placeholder: "Edge box 1", dataset: { testid: "server-name-input" } });
  const id = textInput(existing?.id ?? "", { placeholder: "from the name", disabled: !!existing });
  const url = textInput(existing?.url ?? "", { placeholder: "http://10.0.0.5:8100", dataset: { testid: "server-url" } });
  const username = textInput(existing?.username ?? "");
  const password = secretFields(!!existing?.password_set);
  const banner = h("div.banner.error", { hidden: true, dataset: { testid: "form-banner" } });
  const save = h("button.btn.primary", { type: "submit", dataset: { testid: "server-save" } }, existing ? "Save changes" : "Add server");
  const cancel = h("button.btn", { type: "button" }, "Cancel");
  const form = h("form.inv-form", { novalidate: true, dataset: { testid: "server-form" } },
    banner,
    h("div.grid2", null, field("Name", name, "name"), field("Id", id, "id", existing ? "The id cannot change." : "Its host_server_id; derived from the name when empty.")),
    field("URL", url, "url", "The server's API address: http:// or https://, host and port, without credentials."),
    h("div.grid2", null, field("Username", username, "username"), password.el),
    h("div.actions.end", null, cancel, save));
  const errors = new FormErrors(form, banner);
  const m = modal(existing ? `Edit processing server ${serverName(existing)}` : "Add processing server", form, { wide: true, testid: "server-modal" });
  cancel.onclick = m.close;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    errors.clear();
    save.disabled = true;
    const d: ServerDraft = { name: name.value.trim(), url: url.value.trim(), username: orNull(username.value) };
    const idValue = existing?.id ?? orNull(id.value);
    if (idValue) d.id = idValue;
    const pw = password.value();
    if (pw !== undefined) d.password = pw;
    try {
      const s = existing ? await api.updateServer(existing.id, d) : await api.createServer(d);
      toast(existing ? `Saved ${serverName(s)}` : `Added ${serverName(s)}`);
      m.close();
      saved();
    } catch (err) {
      errors.show(err);
    } finally {
      save.disabled = false;
    }
  });
}
