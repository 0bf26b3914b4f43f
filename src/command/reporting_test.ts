import { assertEquals, assertRejects } from "../../tests/support/assert.ts";
import { withTempDir } from "../../tests/support/files.ts";
import { ConfigError } from "../config/config_error.ts";
import { readReportingSettings } from "./reporting.ts";

Deno.test("reporting producers: [broker], then [heartbeat] or [log]; a consumer's -X gives only the connection", async () => {
  await withTempDir(async (dir) => {
    const config = `${dir}/lab.config`;
    await Deno.writeTextFile(
      config,
      "[broker]\nbootstrap.servers = h:1\n[consumer]\ngroup.id = g\n" +
        "[heartbeat]\nlinger.ms = 7\nprefer.separate.producer = True\n" +
        "[log]\nlog.level = ERROR\nmax.logs.per.message = 20\nclient.id = logs\n",
    );
    const settings = await readReportingSettings(
      { heartbeatTopic: "hb", heartbeatInterval: 2, logTopic: "logs" },
      {
        configFile: config,
        overrides: ["security.protocol=plaintext", "fetch.wait.max.ms=10"],
      },
    );
    assertEquals(settings?.heartbeat?.kafka, {
      "bootstrap.servers": "h:1",
      "security.protocol": "plaintext",
      "linger.ms": "7",
    });
    assertEquals(settings?.heartbeat?.intervalMs, 2000);
    assertEquals(settings?.log?.level, "error");
    assertEquals(settings?.log?.maxLines, 20);
    assertEquals(settings?.log?.kafka["client.id"], "logs");
    assertEquals(settings?.log?.intervalMs, 60_000, "OpenMSIStream's default");
    assertEquals(await readReportingSettings({}, { configFile: config }), undefined);
    await Deno.writeTextFile(config, "[broker]\nbootstrap.servers = h:1\n[log]\nno.such = 1\n");
    await assertRejects(
      () => readReportingSettings({ logTopic: "logs" }, { configFile: config }),
      ConfigError,
      "log producer",
    );
  });
});
