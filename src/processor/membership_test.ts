import assert from "node:assert/strict";
import {
  claimRecordInstance,
  failoverConfig,
  membershipConfig,
  parseFailoverSeconds,
  takeFailoverKey,
} from "./membership.ts";

Deno.test("record processor instance slots: one id per live process, a dead one's is reused", async () => {
  const folder = await Deno.makeTempDir();
  const claims: { release(): Promise<void> }[] = [];
  const claim = async (group = "group-a") => {
    const got = await claimRecordInstance("lab-pc", group, folder);
    claims.push(got);
    return got;
  };
  try {
    const first = await claim();
    const second = await claim();
    // Both claims are this process's; the second finds slot 0 held.
    assert.equal(first.instanceId, "ferry-lab-pc-group-a-0");
    assert.equal(second.instanceId, "ferry-lab-pc-group-a-1");
    await first.release();
    assert.equal((await claim()).instanceId, first.instanceId);
    // A slot held by a process that died (kill -9: its lock file stays) is free again: the
    // kernel dropped the dead process's lock.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { claimRecordInstance } from ${
          JSON.stringify(import.meta.resolve("./membership.ts"))
        };
        const claim = await claimRecordInstance("lab-pc", "group-a", ${JSON.stringify(folder)});
        console.log(claim.instanceId);
        setInterval(() => {}, 60_000);`,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const { value: line } = await reader.read();
    assert.equal(line?.trim(), "ferry-lab-pc-group-a-2");
    assert.equal((await claim()).instanceId, "ferry-lab-pc-group-a-3");
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel();
    assert.equal((await claim()).instanceId, "ferry-lab-pc-group-a-2");
    // Another group has its own slots.
    assert.equal((await claim("group-b")).instanceId, "ferry-lab-pc-group-b-0");
  } finally {
    for (const held of claims) await held.release();
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("failover time: bounds, config key, librdkafka properties", () => {
  assert.equal(parseFailoverSeconds("6", "--failover-seconds"), 6);
  assert.throws(() => parseFailoverSeconds("5", "--failover-seconds"), /at least 6/);
  assert.throws(() => parseFailoverSeconds("ten", "--failover-seconds"), /"ten" is not a number/);
  const config = { "bootstrap.servers": "x:1", "failover.seconds": "15" };
  assert.equal(takeFailoverKey(config), 15);
  assert.deepEqual(config, { "bootstrap.servers": "x:1" });
  assert.deepEqual(failoverConfig({}, 15), {
    "session.timeout.ms": 15000,
    "heartbeat.interval.ms": 3000,
  });
});

Deno.test("membership: the user's group.instance.id wins; an empty one turns it off", async () => {
  const given = await membershipConfig({ "group.instance.id": "mine" }, 10, {
    kind: "files",
    outputDir: "/data/out",
  });
  assert.equal(given.instanceId, "mine");
  const off = { "group.instance.id": "" };
  const none = await membershipConfig(off, 10, { kind: "files", outputDir: "/data/out" });
  assert.equal(none.instanceId, undefined);
  assert.equal(off["group.instance.id" as keyof typeof off], undefined);
  const derived = await membershipConfig({ "session.timeout.ms": 7000 }, undefined, {
    kind: "files",
    outputDir: "/data/out",
  });
  assert.match(derived.instanceId ?? "", /^ferry-.+-[0-9a-f]{12}$/);
  assert.equal(derived.failoverSeconds, 7);
});
