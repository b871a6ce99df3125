// The API docs page (/docs): the service's OpenAPI document rendered as a
// list of operations grouped by tag, each with its parameters, request body
// and responses, and the schemas they name. Everything comes from
// /api/streams/openapi.json, so the page is as true as the document (which
// a Go test compares with the router); nothing is fetched from elsewhere.
import "./docs.css";
import { API, errorText, request } from "../api";
import { h, render } from "../dom";

type Schema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  enum?: unknown[];
  anyOf?: Schema[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  format?: string;
  contentMediaType?: string;
  description?: string;
};
type Media = { schema?: Schema; description?: string };
type Parameter = { name: string; in: string; required?: boolean; description?: string; schema?: Schema };
type Response = { $ref?: string; description?: string; content?: Record<string, Media> };
type Operation = {
  tags?: string[];
  summary?: string;
  description?: string;
  operationId?: string;
  parameters?: Parameter[];
  requestBody?: { description?: string; content?: Record<string, Media> };
  responses?: Record<string, Response>;
};
type Doc = {
  openapi: string;
  info: { title: string; version: string; description?: string };
  tags?: { name: string; description?: string }[];
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema>; responses?: Record<string, Response> };
};

export const OPENAPI_URL = `${API}/openapi.json`;
const METHODS = ["get", "post", "put", "patch", "delete"];
const refName = (ref: string) => ref.slice(ref.lastIndexOf("/") + 1);

export function mountDocs(root: HTMLElement): () => void {
  const body = h("div.docs-body", null, h("p.muted", null, "Loading the API description…"));
  render(root, h("div.docs", { dataset: { testid: "docs" } }, body));
  let live = true;
  request<Doc>("GET", OPENAPI_URL).then(
    (doc) => { if (live) render(body, page(doc)) },
    (err) => { if (live) render(body, h("div.notes.error", { dataset: { testid: "docs-error" } }, `Could not load ${OPENAPI_URL}: ${errorText(err)}`)) },
  );
  return () => { live = false };
}

function page(doc: Doc): Node[] {
  const byTag = new Map<string, { method: string; path: string; op: Operation }[]>();
  for (const t of doc.tags ?? []) byTag.set(t.name, []);
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tag = op.tags?.[0] ?? "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag)!.push({ method, path, op });
    }
  }
  const tagInfo = new Map((doc.tags ?? []).map((t) => [t.name, t.description ?? ""]));
  const search = h("input", { type: "search", placeholder: "Filter: path, method or words", "aria-label": "Filter operations", dataset: { testid: "docs-filter" } });
  const sections = [...byTag].filter(([, ops]) => ops.length).map(([tag, ops]) =>
    h("section.card.docs-tag", { dataset: { tag } },
      h("div.docs-tag-head", null, h("h2", null, tag), h("span.muted.small", null, tagInfo.get(tag) ?? "")),
      ops.map(({ method, path, op }) => operation(doc, method, path, op))));
  search.addEventListener("input", () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    for (const s of sections) {
      let shown = 0;
      for (const el of s.querySelectorAll<HTMLElement>(".docs-op")) {
        const hay = el.dataset.search ?? "";
        el.hidden = !words.every((w) => hay.includes(w));
        if (!el.hidden) shown++;
      }
      s.hidden = shown === 0;
    }
  });
  const schemas = Object.entries(doc.components?.schemas ?? {});
  return [
    h("header.docs-head", null,
      h("div", null,
        h("h1", null, doc.info.title, " ", h("span.muted.small", null, `v${doc.info.version} · OpenAPI ${doc.openapi}`)),
        doc.info.description ? h("p.muted.docs-intro", null, doc.info.description) : null),
      h("div.head-tools", null,
        h("label.search-box", null, search),
        h("a.btn", { href: OPENAPI_URL, download: "openapi.json", dataset: { testid: "docs-raw" } }, "openapi.json"))),
    ...sections,
    h("section.card.docs-tag", { dataset: { testid: "docs-schemas" } },
      h("div.docs-tag-head", null, h("h2", null, "Schemas"), h("span.muted.small", null, "The payloads the operations name.")),
      schemas.map(([name, s]) => h("div.docs-schema", { id: `schema-${name}`, dataset: { testid: "docs-schema", name } },
        h("h3.docs-schema-name", null, name),
        s.description ? h("p.muted.small", null, s.description) : null,
        schemaView(s)))),
  ];
}

function operation(doc: Doc, method: string, path: string, op: Operation): HTMLElement {
  const params = op.parameters ?? [];
  const search = [method, path, op.summary ?? "", op.description ?? "", op.operationId ?? ""].join(" ").toLowerCase();
  return h("details.docs-op", { dataset: { testid: "docs-op", method: method.toUpperCase(), path, search } },
    h("summary", null,
      h("span.docs-method", { class: method }, method.toUpperCase()),
      h("code.docs-path", null, path),
      h("span.docs-summary", null, op.summary ?? "")),
    h("div.docs-op-body", null,
      op.description ? h("p", null, op.description) : null,
      params.length ? [h("h3", null, "Parameters"), h("table.table.docs-params", null,
        h("thead", null, h("tr", null, h("th", null, "Name"), h("th", null, "In"), h("th", null, "Type"), h("th", null, "Description"))),
        h("tbody", null, params.map((p) => h("tr", null,
          h("td", null, h("code", null, p.name), p.required ? h("span.docs-req", { title: "required" }, " *") : null),
          h("td", null, p.in),
          h("td", null, p.schema ? typeText(p.schema) : ""),
          h("td", null, p.description ?? "")))))] : null,
      op.requestBody ? [h("h3", null, "Request body"), content(op.requestBody.content, op.requestBody.description)] : null,
      h("h3", null, "Responses"),
      Object.entries(op.responses ?? {}).map(([status, r]) => {
        const resolved = r.$ref ? doc.components?.responses?.[refName(r.$ref)] ?? r : r;
        return h("div.docs-response", { dataset: { status } },
          h("span.docs-status", { class: status[0] === "2" ? "ok" : "bad" }, status),
          h("div.docs-response-body", null, h("span", null, resolved.description ?? ""), content(resolved.content)));
      })));
}

function content(c: Record<string, Media> | undefined, description?: string): Node {
  return h("div.docs-content", null,
    description ? h("p.muted.small", null, description) : null,
    Object.entries(c ?? {}).map(([type, m]) => h("div.docs-media", null,
      h("span.chip", null, type),
      m.description ? h("span.muted.small", null, ` ${m.description}`) : null,
      m.schema ? schemaView(m.schema) : null)));
}

/** A short type: a link for a $ref, "array of …", "a | b" for enums. */
function typeText(s: Schema): Node {
  if (s.$ref) {
    const name = refName(s.$ref);
    return h("a.docs-ref", { href: `#schema-${name}`, onclick: (e: Event) => { e.preventDefault(); reveal(name) } }, name);
  }
  if (s.anyOf) return h("span", null, s.anyOf.map((alt, i) => [i ? " or " : "", typeText(alt)]));
  if (s.enum) return h("span", null, s.enum.map((v) => JSON.stringify(v)).join(" | "));
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  const main = types.filter((t) => t !== "null");
  const parts: (Node | string)[] = [];
  for (const t of main.length ? main : types) {
    if (parts.length) parts.push(" or ");
    if (t === "array" && s.items) parts.push("array of ", typeText(s.items));
    else if (t === "object" && s.additionalProperties && typeof s.additionalProperties === "object" && !s.properties) parts.push("map of ", typeText(s.additionalProperties));
    else parts.push(s.format ? `${t} (${s.format})` : s.contentMediaType ? `${t} (${s.contentMediaType})` : t);
  }
  if (main.length && types.includes("null")) parts.push(" or null");
  const range = s.minimum !== undefined || s.maximum !== undefined ? ` ${s.minimum ?? ""}…${s.maximum ?? ""}` : s.maxLength ? ` ≤ ${s.maxLength} chars` : "";
  return h("span", null, parts.length ? parts : "any", range);
}

/** An object's members as a table; anything else as its type. */
function schemaView(s: Schema): Node {
  if (!s.properties) return h("div.docs-type", null, typeText(s));
  const required = new Set(s.required ?? []);
  const rows = Object.entries(s.properties).map(([name, p]) => h("tr", null,
    h("td", null, h("code", null, name), required.has(name) ? h("span.docs-req", { title: "required" }, " *") : null),
    h("td", null, typeText(p)),
    h("td.muted", null, p.description ?? "")));
  if (s.additionalProperties === true) rows.push(h("tr", null, h("td.muted", { colspan: "3" }, "Other members are kept as sent.")));
  return h("table.table.docs-props", null, h("tbody", null, rows));
}

function reveal(name: string): void {
  const el = document.getElementById(`schema-${name}`);
  if (!el) return;
  el.scrollIntoView({ block: "start" });
  el.classList.add("flash");
  setTimeout(() => el.classList.remove("flash"), 1200);
}
