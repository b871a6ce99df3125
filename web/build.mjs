// Builds the UI into ../internal/webui/dist: index.html plus
// assets/app-<hash>.js and assets/app-<hash>.css (content-hashed names, so
// the Go server can cache them forever). Old assets are removed.
import { build } from "esbuild";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "..", "internal", "webui", "dist");
const assets = join(dist, "assets");

await rm(assets, { recursive: true, force: true });
await mkdir(assets, { recursive: true });

const result = await build({
  entryPoints: { app: join(here, "src", "main.ts") },
  absWorkingDir: here,
  bundle: true,
  format: "esm",
  target: ["es2022", "chrome110", "firefox110", "safari16"],
  minify: true,
  legalComments: "none",
  entryNames: "[name]-[hash]",
  outdir: assets,
  splitting: true,
  chunkNames: "[name]-[hash]",
  metafile: true,
  logLevel: "warning",
});

let js = "", css = "";
for (const [out, meta] of Object.entries(result.metafile.outputs)) {
  if (meta.entryPoint !== "src/main.ts") continue; // hls.js is a lazily loaded chunk
  js = basename(out);
  if (meta.cssBundle) css = basename(meta.cssBundle);
}
if (!js || !css) throw new Error(`build produced no app js/css: ${Object.keys(result.metafile.outputs)}`);

const template = await readFile(join(here, "index.html"), "utf8");
await writeFile(join(dist, "index.html"), template.replace("{{JS}}", js).replace("{{CSS}}", css));

for (const f of await readdir(dist)) {
  if (f !== "index.html" && f !== "assets") await rm(join(dist, f), { recursive: true, force: true });
}
console.log(`built ${js}, ${css} into ${dist}`);
