import assert from "node:assert/strict";
import { backgroundSha512, nodeSha512, opensslSha512 } from "./background.ts";
import { sha512 } from "./sha512.ts";

function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 65536) {
    crypto.getRandomValues(bytes.subarray(i, Math.min(length, i + 65536)));
  }
  return bytes;
}

const engines = [nodeSha512, opensslSha512()].filter((e) => e !== undefined);

Deno.test("OpenSSL's libcrypto loads here, so hashing runs off the main thread", () => {
  // librdkafka links libcrypto: wherever Ferry runs, it is there. If this fails, uploads still
  // work (node:crypto on the main thread), only slower.
  assert.deepEqual(backgroundSha512().engine, "openssl");
});

for (const engine of engines) {
  Deno.test(`${engine.engine}: digests equal sha512(), for views at an offset too`, async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    for (
      const view of [new Uint8Array(), bytes.subarray(0, 1), bytes, bytes.subarray(5, 700_001)]
    ) {
      assert.deepEqual(await engine.digest(view), sha512(view));
    }
  });

  Deno.test(`${engine.engine}: many digests at once each get their own data's hash`, async () => {
    const chunks = Array.from({ length: 16 }, () => randomBytes(512 * 1024));
    const digests = await Promise.all(chunks.map((c) => engine.digest(c)));
    digests.forEach((digest, i) => assert.deepEqual(digest, sha512(chunks[i])));
  });

  Deno.test(`${engine.engine}: an incremental hash in uneven pieces equals the whole`, async () => {
    const bytes = randomBytes(2 * 1024 * 1024 + 3);
    const hasher = engine.hasher();
    for (let at = 0, step = 1; at < bytes.length; at += step, step = step * 7 + 13) {
      await hasher.update(bytes.subarray(at, Math.min(bytes.length, at + step)));
    }
    assert.deepEqual(hasher.digest(), sha512(bytes));
    assert.throws(() => hasher.digest(), /already finished/);
    hasher.free(); // harmless after digest()
  });
}

Deno.test("openssl: a second update before the first finished is refused", async () => {
  const openssl = opensslSha512();
  assert.ok(openssl, "libcrypto is not loadable here");
  const hasher = openssl.hasher();
  const first = hasher.update(randomBytes(8 * 1024 * 1024));
  // Both are checked at call time, while the first update is surely still running.
  assert.throws(() => hasher.free(), /while an update is running/);
  const second = hasher.update(new Uint8Array(1));
  await assert.rejects(second, /await it first/);
  await first;
  hasher.free();
});
