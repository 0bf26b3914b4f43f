import { assert, assertEquals, assertRejects } from "../../tests/support/assert.ts";
import { UsageError } from "../command/exit_codes.ts";
import { collectEnv, writeEnvFile } from "./env_file.ts";

Deno.test("the environment file is written with mode 0600 whatever the umask, replacing one that was open", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ferry/svc.env`;
    await Deno.mkdir(`${dir}/ferry`);
    await Deno.writeTextFile(path, "OLD=1\n", { mode: 0o644 });
    await Deno.chmod(path, 0o644);
    await writeEnvFile(path, [{ name: "KAFKA_PASSWORD", value: 'p"w$x' }]);
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
    assertEquals(await Deno.readTextFile(path), 'KAFKA_PASSWORD="p\\"w$x"\n');
    assertEquals([...Deno.readDirSync(`${dir}/ferry`)].length, 1, "no temporary file left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the variables a config file names must be set when installing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = `${dir}/lab.config`;
    await Deno.writeTextFile(config, "[broker]\nbootstrap.servers = $B\nsasl.password = ${PW}\n");
    const entries = await collectEnv([], config, (name) => ({ B: "h:1", PW: "x" })[name]);
    assertEquals(entries.map((e) => e.name), ["B", "PW"]);
    const error = await assertRejects(
      () => collectEnv([], config, (name) => name === "B" ? "h:1" : undefined),
      UsageError,
    );
    assert(error.message.includes('"PW"') && error.message.includes("lab.config"), error.message);
    await assertRejects(() => collectEnv(["A B"], undefined, () => "1"), UsageError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
