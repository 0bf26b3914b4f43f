/**
 * What a processor script outside this checkout needs to run with a plain `deno run`: a
 * `deno.json` beside it whose `imports` map Ferry (`@ferry/ferry`, to this checkout's `mod.ts`
 * or to JSR) and the npm packages Ferry's own modules import by bare name. Deno finds the
 * `deno.json` from the script's folder, whatever the current folder, so the script then runs
 * from anywhere. `ferry new` writes that file; `ferry permissions` checks for it and otherwise
 * prints `--config` with this checkout's `deno.json`.
 *
 * @module
 */

import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The bare specifier a starter script imports Ferry by, mapped in its `deno.json`. */
export const FERRY_IMPORT = "@ferry/ferry";

/** The JSR package name of Ferry (not published yet: `jsr:@ferry/ferry` does not resolve). */
export const JSR_PACKAGE = "jsr:@ferry/ferry";

/**
 * The bare specifiers Ferry's own modules (`mod.ts`, `cli.ts`, `src/`, tests excepted) import,
 * whose mappings a script outside the checkout needs (`tests/cli/new_test.ts` checks the list
 * against the sources).
 */
export const FERRY_RUNTIME_IMPORTS: readonly string[] = [
  "@logtape/file",
  "@logtape/logtape",
  "commander",
];

/** This copy of Ferry, when it was loaded from local files. */
export interface FerryCheckout {
  /** The checkout's folder (holding `mod.ts`, `src/` and `deno.json`). */
  root: string;
  /** Its `mod.ts`. */
  mod: string;
  /** Its `deno.json`. */
  denoJson: string;
  /** The package version in its `deno.json`. */
  version: string;
  /** The mappings of {@linkcode FERRY_RUNTIME_IMPORTS}, from its `deno.json`. */
  imports: Record<string, string>;
  /**
   * Its `compile.include` (the worker modules `deno compile` cannot find by itself), as
   * absolute paths.
   */
  compileInclude: string[];
}

/** A `deno.json` (or `deno.jsonc`) and the import mappings it holds. */
export interface DenoConfig {
  /** The file. */
  path: string;
  /** Its `imports`, or `{}`. */
  imports: Record<string, string>;
}

/**
 * Parses JSON with comments (`deno.jsonc`, or comments in `deno.json`), and trailing commas.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseJsonc } from "./deno_config.ts";
 *
 * assert.deepEqual(
 *   parseJsonc('{ // a comment\n "a": "x//y", "b": [1,], }'),
 *   { a: "x//y", b: [1] },
 * );
 * ```
 */
export function parseJsonc(text: string): unknown {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      out += "\n";
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end === -1 ? text.length : end + 1;
    } else out += c;
  }
  return JSON.parse(out.replace(/,(\s*[}\]])/g, "$1"));
}

/**
 * Reads a `deno.json(c)`; `undefined` when there is no such file.
 *
 * @throws {Error} naming the file when it is not valid JSON.
 */
export async function readDenoConfig(path: string): Promise<DenoConfig | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = parseJsonc(text);
  } catch (error) {
    throw new Error(
      `${JSON.stringify(path)} is not valid JSON: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  }
  const imports = (parsed as { imports?: unknown } | null)?.imports;
  const strings: Record<string, string> = {};
  if (imports !== null && typeof imports === "object") {
    for (const [key, value] of Object.entries(imports)) {
      if (typeof value === "string") strings[key] = value;
    }
  }
  return { path, imports: strings };
}

/** The `deno.json` or `deno.jsonc` directly in `dir`, if any. */
export async function configIn(dir: string): Promise<DenoConfig | undefined> {
  for (const name of ["deno.json", "deno.jsonc"]) {
    const config = await readDenoConfig(join(dir, name));
    if (config !== undefined) return config;
  }
  return undefined;
}

/**
 * The configuration Deno uses for a script in `dir`: the first `deno.json(c)` in `dir` or a
 * folder above it (Deno looks from the script's folder, not the current one).
 */
export async function nearestConfig(dir: string): Promise<DenoConfig | undefined> {
  let current = resolve(dir);
  for (;;) {
    const config = await configIn(current);
    if (config !== undefined) return config;
    const parent = dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}

/** Whether `config` maps every npm package Ferry's modules import. */
export function mapsFerryDependencies(config: DenoConfig): boolean {
  return FERRY_RUNTIME_IMPORTS.every((name) => name in config.imports);
}

/**
 * This copy of Ferry, or `undefined` when it was loaded from a remote URL (JSR).
 */
export async function ferryCheckout(): Promise<FerryCheckout | undefined> {
  const url = new URL("../../mod.ts", import.meta.url);
  if (url.protocol !== "file:") return undefined;
  const mod = fileURLToPath(url);
  const root = dirname(mod);
  const denoJson = join(root, "deno.json");
  const text = JSON.parse(await Deno.readTextFile(denoJson)) as {
    version?: string;
    imports?: Record<string, string>;
    compile?: { include?: string[] };
  };
  const imports: Record<string, string> = {};
  for (const name of FERRY_RUNTIME_IMPORTS) {
    const target = text.imports?.[name];
    if (target !== undefined) imports[name] = target;
  }
  const compileInclude = (text.compile?.include ?? []).map((path) => resolve(root, path));
  return { root, mod, denoJson, version: text.version ?? "0.1.0", imports, compileInclude };
}

/** Whether `path` is `root` or inside it. */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, resolve(path));
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith("/"));
}

/**
 * The `deno.json` `ferry new` writes beside a script: `@ferry/ferry` mapped to `ferryTarget`
 * (this checkout's `mod.ts`, or the JSR package), then Ferry's npm dependencies; and, for a
 * checkout, its worker modules in `compile.include`, so `deno compile` of the script embeds them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { starterDenoJson } from "./deno_config.ts";
 *
 * const text = starterDenoJson("/opt/ferry/mod.ts", { commander: "npm:commander@^15.1.0" }, [
 *   "/opt/ferry/src/workers/harness.ts",
 * ]);
 * assert.deepEqual(JSON.parse(text), {
 *   imports: { "@ferry/ferry": "/opt/ferry/mod.ts", commander: "npm:commander@^15.1.0" },
 *   compile: { include: ["/opt/ferry/src/workers/harness.ts"] },
 * });
 * ```
 *
 * @param ferryTarget What `@ferry/ferry` maps to.
 * @param dependencies Ferry's npm dependencies, as its `deno.json` maps them.
 * @param compileInclude The worker modules for `compile.include` (none for JSR).
 * @returns The file's text.
 */
export function starterDenoJson(
  ferryTarget: string,
  dependencies: Record<string, string>,
  compileInclude: readonly string[] = [],
): string {
  const config: Record<string, unknown> = {
    imports: { [FERRY_IMPORT]: ferryTarget, ...dependencies },
  };
  if (compileInclude.length > 0) config.compile = { include: compileInclude };
  return JSON.stringify(config, null, 2) + "\n";
}
