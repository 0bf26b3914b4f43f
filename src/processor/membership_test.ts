import assert from "node:assert/strict";
import { join } from "node:path";
import {
  claimRecordInstance,
  failoverConfig,
  membershipConfig,
  parseFailoverSeconds,
  takeFailoverKey,
} from "./membership.ts";

Deno.test("record processor instance slots: one id per live process, a dead one's is reused", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const first = await claimRecordInstance("lab-pc", "group-a", folder);
    const second = await claimRecordInstance("lab-pc", "group-a", folder);
    // Both claims are this process's; the second finds slot 0 taken by a live process.
    assert.equal(first.instanceId, "ferry-lab-pc-group-a-0");
    assert.equal(second.instanceId, "ferry-lab-pc-group-a-1");
    await first.release();
    assert.equal(
      (await claimRecordInstance("lab-pc", "group-a", folder)).instanceId,
      first.instanceId,
    );
    // A slot left by a process that died (kill -9: its file stays) is taken over.
    const [dir] = [...Deno.readDirSync(folder)].map((e) => join(folder, e.name));
    const dead = new Deno.Command("true").spawn();
    const { success } = await dead.status;
    assert.ok(success);
    await Deno.writeTextFile(join(dir, "2.pid"), String(dead.pid));
    assert.equal(
      (await claimRecordInstance("lab-pc", "group-a", folder)).instanceId,
      "ferry-lab-pc-group-a-2",
    );
    // Another group has its own slots.
    assert.equal(
      (await claimRecordInstance("lab-pc", "group-b", folder)).instanceId,
      "ferry-lab-pc-group-b-0",
    );
  } finally {
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
