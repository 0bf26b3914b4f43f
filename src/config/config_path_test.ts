/** `--config NAME`: OpenMSIStream's lookup (a bare name gets `.config`; then the config folder). */

import { join } from "node:path";
import { assertEquals, assertRejects } from "../../tests/support/assert.ts";
import { withTempDir } from "../../tests/support/files.ts";
import { ConfigError } from "./config_error.ts";
import { findConfigFile } from "./config_path.ts";

Deno.test("a bare name is NAME.config here, else in FERRY_CONFIG_DIR or OPENMSISTREAM_CONFIG_FILE_DIR", async () => {
  await withTempDir(async (dir) => {
    const folder = join(dir, "configs");
    await Deno.mkdir(folder);
    await Deno.writeTextFile(join(folder, "prod.config"), "[broker]\n");
    const env = (vars: Record<string, string>) => (name: string) => vars[name];
    assertEquals(
      await findConfigFile("prod", env({ FERRY_CONFIG_DIR: folder })),
      join(folder, "prod.config"),
    );
    assertEquals(
      await findConfigFile("prod", env({ OPENMSISTREAM_CONFIG_FILE_DIR: folder })),
      join(folder, "prod.config"),
    );
    assertEquals(
      await findConfigFile(join(folder, "prod.config"), env({})),
      join(folder, "prod.config"),
    );
    await assertRejects(
      () => findConfigFile("prod", env({ FERRY_CONFIG_DIR: dir })),
      ConfigError,
      `"prod" does not exist (looked for "prod.config" and "${join(dir, "prod.config")}")`,
    );
  });
});
