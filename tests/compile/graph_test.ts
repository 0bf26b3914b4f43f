/**
 * `deno compile` readiness: the worker harness, which the coordinator starts with
 * `new Worker(new URL(...))` and which `deno compile` cannot see in the module graph, is listed
 * in `compile.include` of deno.json, and the graph a compile embeds (the user's script plus
 * the included modules) holds every module a worker loads.
 *
 * The real `deno compile` needs its runtime (`denort`) from dl.deno.land, which is not
 * reachable here; the last test runs `deno compile` with `DENORT_BIN` pointing at the `deno`
 * binary instead, which builds the same embedded file system offline (the result is not a
 * runnable Ferry binary and is deleted), and reads its "Embedded Files" listing.
 */

import { join } from "node:path";
import { fileURLToPath as fromFileUrl, pathToFileURL as toFileUrl } from "node:url";
import { assert, assertEquals } from "../support/assert.ts";
import { withTempDir } from "../support/files.ts";

const ROOT = new URL("../../", import.meta.url);
const ROOT_PATH = fromFileUrl(ROOT);
/** User scripts of both kinds: a file processor and a record processor. */
const USER_SCRIPTS = ["examples/checksum.ts", "tests/fixtures/recording_record_processor.ts"];

interface InfoModule {
  specifier: string;
  error?: string;
  dependencies?: { specifier: string; code?: { specifier?: string; error?: string } }[];
}

interface DenoInfo {
  modules: InfoModule[];
  npmPackages: Record<string, unknown>;
}

async function denoInfo(path: string): Promise<DenoInfo> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", path],
    cwd: ROOT_PATH,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert(output.success, `deno info --json "${path}" failed: ${stderr}`);
  return JSON.parse(new TextDecoder().decode(output.stdout)) as DenoInfo;
}

/** The local modules (file: URLs) of a graph, and any module that failed to resolve. */
function localModules(info: DenoInfo): { modules: Set<string>; errors: string[] } {
  const modules = new Set<string>();
  const errors: string[] = [];
  for (const module of info.modules) {
    if (module.error) errors.push(`${module.specifier}: ${module.error}`);
    if (module.specifier.startsWith("file:")) modules.add(module.specifier);
    for (const dependency of module.dependencies ?? []) {
      if (dependency.code?.error) errors.push(`${dependency.specifier}: ${dependency.code.error}`);
    }
  }
  return { modules, errors };
}

async function compileIncludes(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT_PATH, "deno.json"))) as {
    compile?: { include?: string[] };
  };
  return config.compile?.include ?? [];
}

async function* sourceFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

/**
 * The modules started as workers: in every source file that calls `new Worker(`, each
 * `new URL("<module>.ts", import.meta.url)` it names.
 */
async function workerEntryModules(): Promise<string[]> {
  const entries: string[] = [];
  for await (const path of sourceFiles(join(ROOT_PATH, "src"))) {
    const text = await Deno.readTextFile(path);
    if (!/new Worker\(/.test(text)) continue;
    for (const match of text.matchAll(/new URL\(\s*"([^"]+\.ts)",\s*import\.meta\.url\s*\)/g)) {
      entries.push(new URL(match[1], toFileUrl(path)).href);
    }
  }
  return entries.sort();
}

const HARNESS_PATH = "src/workers/harness.ts";

/** The local modules every worker loads (besides the user's script, which the harness imports). */
async function workerGraphs(): Promise<{ modules: Set<string>; npm: Set<string> }> {
  const modules = new Set<string>();
  const npm = new Set<string>();
  for (const entry of await workerEntryModules()) {
    const info = await denoInfo(fromFileUrl(entry));
    const local = localModules(info);
    assertEquals(local.errors, [], `modules of worker "${entry}" that do not resolve`);
    for (const module of local.modules) modules.add(module);
    for (const name of Object.keys(info.npmPackages)) npm.add(name);
  }
  return { modules, npm };
}

Deno.test("compile.include in deno.json lists every module started as a worker", async () => {
  const entries = await workerEntryModules();
  assert(entries.length > 0, "No `new Worker(new URL(...))` found under src/.");
  const included = (await compileIncludes()).map((path) => new URL(path, ROOT).href).sort();
  for (const entry of entries) {
    assert(
      included.includes(entry),
      `Worker module "${entry}" is missing from compile.include in deno.json (${
        JSON.stringify(included)
      }); a compiled binary could not start its workers.`,
    );
  }
});

Deno.test("the graph a compile embeds holds everything the workers load", async () => {
  const includes = await compileIncludes();
  const included = new Set<string>();
  const includedNpm = new Set<string>();
  for (const path of includes) {
    const info = await denoInfo(path);
    const { modules, errors } = localModules(info);
    assertEquals(errors, [], `modules of "${path}" that do not resolve`);
    for (const module of modules) included.add(module);
    for (const name of Object.keys(info.npmPackages)) includedNpm.add(name);
  }
  const harness = new URL(HARNESS_PATH, ROOT).href;
  assert(included.has(harness), `The included graph does not hold "${harness}".`);

  for (const script of USER_SCRIPTS) {
    const info = await denoInfo(script);
    const { modules: scriptModules, errors } = localModules(info);
    assertEquals(errors, [], `modules of "${script}" that do not resolve`);
    // The harness imports the user's script by its URL (Deno.mainModule): the compile's root.
    assert(scriptModules.has(new URL(script, ROOT).href));
    // Without compile.include the worker's modules are not embedded: that is why it is there.
    assert(
      !scriptModules.has(harness),
      `"${script}" now reaches the harness statically; compile.include may be unnecessary.`,
    );
    // What workers load: every worker module's graph plus the script's (the harness imports it).
    const workers = await workerGraphs();
    const workerLoads = new Set([...scriptModules, ...workers.modules]);
    const embedded = new Set([...scriptModules, ...included]);
    const missing = [...workerLoads].filter((module) => !embedded.has(module));
    assertEquals(missing, [], `worker modules missing from the compile of "${script}"`);
    // The npm packages the workers use are embedded with the script's own.
    const npm = new Set([...Object.keys(info.npmPackages), ...includedNpm]);
    for (const name of workers.npm) {
      assert(npm.has(name), `npm package "${name}" that workers use is not embedded.`);
    }
  }
});

Deno.test({
  name: "deno compile embeds the worker modules (offline, with DENORT_BIN)",
  // The compile writes a ~100 MB file; it is deleted at once.
  async fn() {
    await withTempDir(async (dir) => {
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["compile", "--allow-all", "--output", join(dir, "checksum"), USER_SCRIPTS[0]],
        cwd: ROOT_PATH,
        env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(output.stdout) +
        new TextDecoder().decode(output.stderr);
      assert(output.success, `deno compile failed:\n${text}`);
      const listing = text.slice(text.indexOf("Embedded Files"));
      assert(listing.length > 0, `No "Embedded Files" listing in:\n${text}`);
      // The listing names files as a tree ("workers/*" when a whole folder is embedded).
      for (const path of await compileIncludes()) {
        const [folder, name] = path.split("/").slice(-2);
        assert(
          listing.includes(name) || listing.includes(`${folder}/*`),
          `"${path}" is not embedded:\n${listing}`,
        );
      }
      for (const name of ["examples/checksum.ts", "mod.ts", "@logtape"]) {
        assert(listing.includes(name), `"${name}" is not embedded:\n${listing}`);
      }
    }, "ferry_compile_");
  },
});
