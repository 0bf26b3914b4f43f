/**
 * `quit` typed on an interactive terminal stops a long-running command gracefully, as
 * OpenMSIStream's programs stop. The terminal is a real pseudo-terminal, from util-linux's
 * `script`.
 *
 * @module
 */

import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, withTopic } from "../support/broker.ts";
import { CLI } from "../support/cli.ts";
import { withTempDir } from "../support/files.ts";
import { killAfter } from "../support/processor.ts";
import { sleep } from "../support/wait.ts";

const decoder = new TextDecoder();

Deno.test("quit typed on a terminal stops ferry download gracefully (exit 0, its summary printed)", async () => {
  await withTempDir(async (dir) => {
    await withTopic(1, async (topic) => {
      const command = [
        Deno.execPath(),
        "run",
        "-A",
        CLI,
        "download",
        dir,
        "-t",
        topic,
        "-b",
        BOOTSTRAP,
      ]
        .map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
      const child = new Deno.Command("script", {
        args: ["-qfec", command, "/dev/null"],
        env: { NO_COLOR: "1", FERRY_BOOTSTRAP_SERVERS: "" },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      killAfter(child, 90_000);
      const output = child.output();
      const writer = child.stdin.getWriter();
      await sleep(8000); // started and assigned (no timing assertion: a late quit still stops it)
      await writer.write(new TextEncoder().encode("quit\n"));
      const out = await output;
      await writer.close().catch(() => undefined);
      const text = decoder.decode(out.stdout) + decoder.decode(out.stderr);
      assertEquals(out.code, 0, text);
      assert(text.includes("Stopping"), text);
      assert(text.includes("Rebuilt 0 file(s)"), text);
    });
  }, "ferry-quit-");
});
