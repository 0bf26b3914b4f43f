/**
 * The guides stay true to the code (no broker needed). For README.md, CONTRIBUTING.md,
 * bench/README.md and docs/*.md:
 *
 * 1. every `--flag` in a code span or a code block exists in the `--help` of the command it
 *    belongs to (a command line in a shell block is checked against that command's own help;
 *    a flag elsewhere against the help of any Ferry command), Deno's own flags and a few other
 *    tools' flags (the Kafka scripts, npm, apt-get) allowed by name;
 * 2. every repository path in a code span or a code block (`src/...`, `tests/...`, `examples/...`,
 *    `scripts/...`, `bench/...`, `docs/...`) exists;
 * 3. every relative Markdown link resolves, to a file and, with `#anchor`, to a heading in it;
 * 4. the logger categories in docs/operations.md are exactly those `getLogger([...])` names in
 *    `src/`.
 *
 * A failure names the file and line.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const decoder = new TextDecoder();

/** A Markdown file split into code blocks and prose, with line numbers (1-based). */
interface Doc {
  /** Path relative to the repository root. */
  path: string;
  /** The text. */
  text: string;
  /** Code block lines: language, text, line number. */
  codeLines: { lang: string; text: string; line: number; blockStart: boolean }[];
  /** The text with code block lines blanked (line numbers kept). */
  prose: string;
}

async function docPaths(): Promise<string[]> {
  const paths = ["README.md", "CONTRIBUTING.md", "bench/README.md"];
  for await (const entry of Deno.readDir(join(ROOT, "docs"))) {
    if (entry.isFile && entry.name.endsWith(".md")) paths.push(`docs/${entry.name}`);
  }
  return paths.sort();
}

function parseDoc(path: string, text: string): Doc {
  const lines = text.split("\n");
  const codeLines: Doc["codeLines"] = [];
  const prose: string[] = [];
  let fence: string | undefined;
  let lang = "";
  let blockStart = false;
  lines.forEach((line, i) => {
    const open = /^\s*(`{3,}|~{3,})\s*([\w-]*)/.exec(line);
    if (fence === undefined && open) {
      fence = open[1];
      lang = open[2].toLowerCase();
      blockStart = true;
      prose.push("");
    } else if (fence !== undefined && line.trim().startsWith(fence)) {
      fence = undefined;
      prose.push("");
    } else if (fence !== undefined) {
      codeLines.push({ lang, text: line, line: i + 1, blockStart });
      blockStart = false;
      prose.push("");
    } else {
      prose.push(line);
    }
  });
  return { path, text, codeLines, prose: prose.join("\n") };
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Inline code spans of the prose (they may wrap over lines, never over a blank line). */
function codeSpans(doc: Doc): { text: string; line: number }[] {
  const spans: { text: string; line: number }[] = [];
  // HTML comments (such as <!-- deno-fmt-ignore -->) are not prose.
  const prose = doc.prose.replace(/<!--[\s\S]*?-->/g, (m) => m.replace(/[^\n]/g, " "));
  for (const match of prose.matchAll(/(`+)((?:(?!\n\s*\n)[\s\S])+?)\1/g)) {
    spans.push({ text: match[2], line: lineAt(prose, match.index!) });
  }
  return spans;
}

// --- 1. Flags ---------------------------------------------------------------------------------

const FLAG = /(?<![\w-])--[A-Za-z][\w-]*/g;

function flagsIn(text: string): string[] {
  return [...text.matchAll(FLAG)].map((m) => m[0]);
}

/** Deno's own flags (before the script, or of `deno test`, `deno doc`, ...). */
function isDenoFlag(flag: string): boolean {
  return /^--(allow|deny|unstable)-/.test(flag) || DENO_FLAGS.has(flag);
}

const DENO_FLAGS = new Set([
  "--config",
  "--doc",
  "--output",
  "--include",
  "--html",
  "--name",
  "--lint",
  "--check",
  "--dry-run",
  "--filter",
  "--json",
  "--reload",
  "--no-check",
  "--quiet",
  "--import-map",
  "--env-file",
  "--parallel",
  "--fail-fast",
  "--coverage",
  "--trace-leaks",
  "--global",
  "--force",
  "--v8-flags",
  // V8's own, given through --v8-flags (a long-running watch's young generation).
  "--max-semi-space-size",
]);

/** Deno flags that take their value as the next argument. */
const DENO_VALUE_FLAGS = new Set(["--config", "-c", "--output", "-o", "--include", "--name"]);

/** Other tools' flags, allowed only on their own command lines. */
const OTHER_TOOLS: Record<string, Set<string>> = {
  // The Kafka scripts (java -cp ... org.apache.kafka.tools.TopicCommand, kafka.admin.AclCommand).
  java: new Set([
    "--add",
    "--allow-principal",
    "--operation",
    "--group",
    "--resource-pattern-type",
    "--transactional-id",
    "--principal",
    "--bootstrap-server",
    "--create",
    "--topic",
    "--partitions",
    "--replication-factor",
    "--describe",
    "--delete",
    "--list",
  ]),
  "kafka-topics.sh": new Set(["--bootstrap-server", "--create", "--topic", "--partitions"]),
  kcat: new Set(),
  npm: new Set(["--prefix", "--ignore-scripts", "--no-audit", "--no-fund", "--no-save"]),
  "apt-get": new Set(["--no-install-recommends"]),
  brew: new Set(),
  jq: new Set(),
  echo: new Set(),
  export: new Set(),
  curl: new Set(["--silent", "--fail"]),
};

interface Helps {
  /** Flags by command: `ferry`, `ferry upload`, ..., a script path, `processor`, `bench`, `broker`. */
  byCommand: Map<string, Set<string>>;
  /** Every Ferry flag, the benchmark's and the broker script's. */
  all: Set<string>;
}

async function helpOf(args: string[]): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = decoder.decode(output.stdout) + decoder.decode(output.stderr);
  assert.equal(output.code, 0, `deno ${args.join(" ")} exited ${output.code}:\n${text}`);
  return text;
}

let helps: Promise<Helps> | undefined;

/** Runs every Ferry command's `--help` once (they run in parallel). */
function collectHelps(): Promise<Helps> {
  helps ??= (async () => {
    const jobs: [string, string[]][] = [["ferry", ["run", "-A", "cli.ts", "--help"]]];
    for (
      const sub of [
        "upload",
        "download",
        "status",
        "new",
        "permissions",
        "topic",
        "retry",
        "service",
        "repartition",
      ]
    ) {
      jobs.push([`ferry ${sub}`, ["run", "-A", "cli.ts", sub, "--help"]]);
    }
    // `ferry migrate <what>`: each one's flags count as flags of `ferry migrate`.
    for (const what of ["upload", "processor"]) {
      jobs.push(["ferry migrate", ["run", "-A", "cli.ts", "migrate", what, "--help"]]);
    }
    // `ferry service <action>`: each action's flags count as flags of `ferry service`.
    for (const action of ["install", "uninstall", "status", "logs", "start", "stop", "restart"]) {
      jobs.push(["ferry service", ["run", "-A", "cli.ts", "service", action, "--help"]]);
    }
    // `ferry topic <action>`: each action's flags count as flags of `ferry topic`.
    for (const action of ["create", "list", "describe", "delete"]) {
      jobs.push(["ferry topic", ["run", "-A", "cli.ts", "topic", action, "--help"]]);
    }
    for await (const entry of Deno.readDir(join(ROOT, "examples"))) {
      if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
      const text = await Deno.readTextFile(join(ROOT, "examples", entry.name));
      if (!text.includes("runFromCommandLine")) continue;
      jobs.push([`examples/${entry.name}`, ["run", "-A", `examples/${entry.name}`, "--help"]]);
    }
    jobs.push(["bench", ["run", "-A", "bench/run.ts", "--help"]]);
    const texts = await Promise.all(jobs.map(([, args]) => helpOf(args)));
    const byCommand = new Map<string, Set<string>>();
    jobs.forEach(([name], i) =>
      byCommand.set(name, new Set([...byCommand.get(name) ?? [], ...flagsIn(texts[i])]))
    );
    // A processor script the guides write themselves (`my-processor.ts`): any processor flag.
    byCommand.set(
      "processor",
      new Set([
        ...byCommand.get("examples/checksum.ts") ?? [],
        ...byCommand.get("examples/record_counts.ts") ?? [],
      ]),
    );
    // The dev broker's options, from its usage comment (`--help` prints it and exits 2).
    const broker = await Deno.readTextFile(join(ROOT, "scripts/kafka/broker.sh"));
    const usage = broker.split("\n").filter((line) => line.startsWith("#")).join("\n");
    byCommand.set("broker", new Set(flagsIn(usage)));
    // The test and install scripts' options, from their usage comments too.
    for (const script of ["scripts/test.sh", "scripts/install.sh"]) {
      const text = await Deno.readTextFile(join(ROOT, script));
      const comment = text.split("\n").filter((line) => line.startsWith("#")).join("\n");
      byCommand.set(script, new Set(flagsIn(comment)));
    }
    const all = new Set<string>();
    for (const flags of byCommand.values()) for (const flag of flags) all.add(flag);
    return { byCommand, all };
  })();
  return helps;
}

function known(flag: string, flags: Set<string>): boolean {
  return flags.has(flag) || (flag.endsWith("_") && [...flags].some((f) => f.startsWith(flag)));
}

interface Token {
  text: string;
  line: number;
}

/** Shell words of one line, quotes kept; a comment ends the line. */
function shellWords(text: string): { words: string[]; comment: string } {
  const words: string[] = [];
  let comment = "";
  // A placeholder (`<output dir>`) is one word with what it is attached to.
  for (const match of text.matchAll(/(?:[^\s'"<]+|'[^']*'|"[^"]*"|<[^>\n]*>)+/g)) {
    if (match[0].startsWith("#")) {
      comment = text.slice(match.index);
      break;
    }
    words.push(match[0]);
  }
  return { words, comment };
}

/** Splits a logical command line into simple commands at `&&`, `||`, `|` and `;`. */
function simpleCommands(tokens: Token[]): Token[][] {
  const commands: Token[][] = [[]];
  for (const token of tokens) {
    if (["&&", "||", "|", ";"].includes(token.text)) commands.push([]);
    else if (token.text.endsWith(";")) {
      commands.at(-1)!.push({ ...token, text: token.text.slice(0, -1) });
      commands.push([]);
    } else commands.at(-1)!.push(token);
  }
  return commands.filter((c) => c.length > 0);
}

interface FlagProblem {
  line: number;
  message: string;
}

/**
 * Checks the arguments of a `ferry` command line against its subcommand's help; after `--`
 * (`ferry service install ... -- <processor command>`), the processor command's against its own.
 */
function checkFerry(
  args: Token[],
  check: (tokens: Token[], allowed: (flag: string) => boolean, what: string) => void,
  h: Helps,
): void {
  const end = args.findIndex((t) => t.text === "--");
  const own = end < 0 ? args : args.slice(0, end);
  const subcommand = own.find((t) => !t.text.startsWith("-"))?.text;
  const name = subcommand !== undefined && h.byCommand.has(`ferry ${subcommand}`)
    ? `ferry ${subcommand}`
    : "ferry";
  check(own, (f) => known(f, h.byCommand.get(name)!), `\`${name}\` (--help)`);
  if (end < 0) return;
  const [program, ...rest] = args.slice(end + 1);
  if (program === undefined) return;
  const which = h.byCommand.has(`ferry ${program.text}`)
    ? `ferry ${program.text}`
    : h.byCommand.has(program.text)
    ? program.text
    : "processor";
  check(rest, (f) => known(f, h.byCommand.get(which)!), `${which} (--help)`);
}

/** Checks the flags of one simple command against the help of the command it runs. */
function checkCommand(command: Token[], h: Helps): FlagProblem[] {
  const problems: FlagProblem[] = [];
  let words = command.filter((t) => !/^'|^"/.test(t.text));
  // Environment assignments and sudo in front.
  while (words.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0].text)) words = words.slice(1);
  if (words[0]?.text === "sudo") words = words.slice(1);
  if (words.length === 0) return problems;
  const check = (tokens: Token[], allowed: (flag: string) => boolean, what: string) => {
    for (const token of tokens) {
      if (!token.text.startsWith("--")) continue;
      const flag = flagsIn(token.text)[0];
      if (flag !== undefined && !allowed(flag)) {
        problems.push({ line: token.line, message: `${flag} is not a flag of ${what}` });
      }
    }
  };
  const tool = words[0].text.split("/").at(-1)!;
  const rest = words.slice(1);
  if (tool === "deno") {
    const sub = rest[0]?.text;
    const args = rest.slice(1);
    if (sub === "task") {
      const task = args[0]?.text;
      const taskArgs = args.slice(1);
      if (task === "bench") check(taskArgs, (f) => known(f, h.byCommand.get("bench")!), "bench");
      else check(taskArgs, isDenoFlag, `deno task ${task}`);
      return problems;
    }
    if (sub !== "run" && sub !== "compile") {
      check(args, isDenoFlag, `deno ${sub}`);
      return problems;
    }
    // The script is the first argument that is not a flag (nor a flag's value).
    let at = 0;
    while (at < args.length && args[at].text.startsWith("-")) {
      at += DENO_VALUE_FLAGS.has(args[at].text) ? 2 : 1;
    }
    check(args.slice(0, at), isDenoFlag, `deno ${sub}`);
    const script = args[at]?.text;
    if (script === undefined) return problems;
    const scriptArgs = args.slice(at + 1);
    if (script === "cli.ts" || script.endsWith("/cli.ts") || script.endsWith("@ferry/ferry/cli")) {
      checkFerry(scriptArgs, check, h);
    } else if (script === "bench/run.ts") {
      check(scriptArgs, (f) => known(f, h.byCommand.get("bench")!), "bench/run.ts");
    } else if (h.byCommand.has(script)) {
      check(scriptArgs, (f) => known(f, h.byCommand.get(script)!), `${script} (--help)`);
    } else if (script.startsWith("examples/") || script.startsWith("scripts/")) {
      // A helper without a processor command line (examples/demo/topic.ts): no flags.
      check(scriptArgs, () => false, script);
    } else {
      check(scriptArgs, (f) => known(f, h.byCommand.get("processor")!), "a processor (--help)");
    }
    return problems;
  }
  if (tool === "ferry") {
    checkFerry(rest, check, h);
    return problems;
  }
  if (tool === "bash" || tool === "sh") {
    const script = rest[0]?.text ?? "";
    if (script.endsWith("scripts/kafka/broker.sh")) {
      check(rest.slice(1), (f) => known(f, h.byCommand.get("broker")!), script);
    } else if (script.endsWith("scripts/test.sh")) {
      const own = h.byCommand.get("scripts/test.sh")!;
      check(rest.slice(1), (f) => known(f, own) || isDenoFlag(f), `${script} (deno task test)`);
    } else if (script.endsWith("scripts/install.sh")) {
      check(rest.slice(1), (f) => known(f, h.byCommand.get("scripts/install.sh")!), script);
    } else check(rest.slice(1), () => false, script);
    return problems;
  }
  const allowed = OTHER_TOOLS[tool];
  if (allowed === undefined) {
    check(rest, () => false, `\`${tool}\` (add the tool to OTHER_TOOLS in tests/docs_test.ts)`);
  } else check(rest, (f) => allowed.has(f), tool);
  return problems;
}

const SHELL = new Set(["sh", "bash", "shell", "console"]);

/**
 * Flags that belong to an example in a guide, not to a Ferry command: the guide's own example
 * processor's options.
 */
const EXAMPLE_FLAGS: Record<string, Set<string>> = {
  "docs/record-processors.md": new Set(["--label"]), // the `counter` example's `label` option
};

function flagProblems(doc: Doc, h: Helps): string[] {
  const problems: string[] = [];
  const own = EXAMPLE_FLAGS[doc.path] ?? new Set();
  const anywhere = (flag: string) => known(flag, h.all) || isDenoFlag(flag) || own.has(flag);
  for (const span of codeSpans(doc)) {
    for (const flag of flagsIn(span.text)) {
      if (!anywhere(flag)) {
        problems.push(`${doc.path}:${span.line}: ${flag} is in no Ferry command's --help`);
      }
    }
  }
  let logical: Token[] = [];
  for (const code of doc.codeLines) {
    if (!SHELL.has(code.lang)) {
      for (const flag of flagsIn(code.text)) {
        if (!anywhere(flag)) {
          problems.push(`${doc.path}:${code.line}: ${flag} is in no Ferry command's --help`);
        }
      }
      continue;
    }
    if (code.blockStart) logical = [];
    const { words, comment } = shellWords(code.text);
    for (const flag of flagsIn(comment)) {
      if (!anywhere(flag)) {
        problems.push(`${doc.path}:${code.line}: ${flag} is in no Ferry command's --help`);
      }
    }
    const continued = words.at(-1) === "\\";
    logical.push(...words.filter((w) => w !== "\\").map((text) => ({ text, line: code.line })));
    if (continued) continue;
    for (const command of simpleCommands(logical)) {
      for (const p of checkCommand(command, h)) {
        problems.push(`${doc.path}:${p.line}: ${p.message}`);
      }
    }
    logical = [];
  }
  return problems;
}

Deno.test("every --flag in the guides is in the --help of its command", async () => {
  const h = await collectHelps();
  const problems: string[] = [];
  for (const path of await docPaths()) {
    problems.push(...flagProblems(parseDoc(path, await Deno.readTextFile(join(ROOT, path))), h));
  }
  assert.deepEqual(problems, [], `unknown flags:\n${problems.join("\n")}`);
});

// --- 2. Repository paths ----------------------------------------------------------------------

const REPO_PATH = /(?<![\w./<>-])(?:src|tests|examples|scripts|bench|docs)\/[\w./-]*/g;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test("every repository path the guides name exists", async () => {
  const problems: string[] = [];
  for (const path of await docPaths()) {
    const doc = parseDoc(path, await Deno.readTextFile(join(ROOT, path)));
    const places = [
      ...codeSpans(doc),
      ...doc.codeLines.map((c) => ({ text: c.text, line: c.line })),
    ];
    for (const place of places) {
      for (const match of place.text.matchAll(REPO_PATH)) {
        const next = place.text[match.index! + match[0].length];
        // A placeholder or a glob (`tests/<kind>/`, `src/**/*_test.ts`) names no one path.
        if (next !== undefined && /[<*{…$]/.test(next)) continue;
        const repoPath = match[0].replace(/[.,]+$/, "");
        if (!await exists(join(ROOT, repoPath))) {
          problems.push(`${path}:${place.line}: ${repoPath} does not exist`);
        }
      }
    }
  }
  assert.deepEqual(problems, [], `missing paths:\n${problems.join("\n")}`);
});

// --- 3. Links ---------------------------------------------------------------------------------

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/`/g, "")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchors(doc: Doc): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of doc.prose.split("\n")) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

Deno.test("every relative link in the guides resolves, anchors included", async () => {
  const problems: string[] = [];
  const docs = new Map<string, Doc>();
  const load = async (path: string) => {
    if (!docs.has(path)) docs.set(path, parseDoc(path, await Deno.readTextFile(join(ROOT, path))));
    return docs.get(path)!;
  };
  for (const path of await docPaths()) {
    const doc = await load(path);
    const prose = doc.prose.replace(/(`+)[\s\S]*?\1/g, (m) => m.replace(/[^\n]/g, " "));
    for (const match of prose.matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = match[1];
      const line = lineAt(prose, match.index!);
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [file, anchor] = target.split("#", 2);
      const resolved = file === "" ? path : relative(ROOT, join(ROOT, dirname(path), file));
      if (resolved.startsWith("..") || !await exists(join(ROOT, resolved))) {
        problems.push(`${path}:${line}: ${target} does not exist`);
        continue;
      }
      if (anchor !== undefined && resolved.endsWith(".md")) {
        const targetDoc = await load(resolved);
        if (!anchors(targetDoc).has(anchor)) {
          problems.push(`${path}:${line}: ${target}: no heading "#${anchor}" in ${resolved}`);
        }
      }
    }
  }
  assert.deepEqual(problems, [], `broken links:\n${problems.join("\n")}`);
});

// --- 4. Logger categories ---------------------------------------------------------------------

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) files.push(...await sourceFiles(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) files.push(path);
  }
  return files;
}

Deno.test("docs/operations.md lists exactly the logger categories of src/", async () => {
  const inCode = new Map<string, string>();
  for (const file of await sourceFiles(join(ROOT, "src"))) {
    const lines = (await Deno.readTextFile(file)).split("\n");
    lines.forEach((line, i) => {
      if (/^\s*(\*|\/\/)/.test(line)) return; // doc comments and examples
      for (const match of line.matchAll(/getLogger\(\[([^\]]*)\]/g)) {
        const parts = match[1].split(",").map((p) => p.trim()).filter((p) => p !== "");
        if (parts.some((p) => p.startsWith("..."))) continue;
        const category = parts.map((p) => /^"(.*)"$/.exec(p)?.[1] ?? "<name>").join(".");
        inCode.set(category, `${relative(ROOT, file)}:${i + 1}`);
      }
    });
  }
  const operations = await Deno.readTextFile(join(ROOT, "docs/operations.md"));
  const section = operations.split(/^## /m).find((s) => s.startsWith("Logger categories"));
  assert.ok(section, 'docs/operations.md has no "## Logger categories" section');
  const inDocs = new Set(
    [...section.matchAll(/^\|\s*`(ferry(?:\.[\w<>-]+)*)`/gm)].map((m) => m[1]),
  );
  const missing = [...inCode.keys()].filter((c) => !inDocs.has(c))
    .map((c) => `${c} (${inCode.get(c)}) is not in docs/operations.md`);
  const stale = [...inDocs].filter((c) => !inCode.has(c))
    .map((c) => `${c} is in docs/operations.md but no getLogger call in src/ uses it`);
  assert.deepEqual([...missing, ...stale], [], [...missing, ...stale].join("\n"));
});
