import assert from "node:assert/strict";
import { hashesEqual, hashHex, sha512, SHA512_LENGTH, Sha512Hasher } from "./sha512.ts";

const ABC_SHA512 = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" +
  "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
const EMPTY_SHA512 = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce" +
  "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

Deno.test("sha512() matches the standard test vectors and returns a plain Uint8Array", () => {
  const digest = sha512(new TextEncoder().encode("abc"));
  assert.equal(hashHex(digest), ABC_SHA512);
  assert.equal(digest.length, SHA512_LENGTH);
  assert.equal(Object.getPrototypeOf(digest), Uint8Array.prototype);
  assert.equal(hashHex(sha512(new Uint8Array())), EMPTY_SHA512);
});

Deno.test("sha512() agrees with crypto.subtle.digest on a view at an offset", async () => {
  const buffer = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff);
  const view = buffer.subarray(13, 99_000);
  const expected = new Uint8Array(await crypto.subtle.digest("SHA-512", view));
  assert.deepEqual(sha512(view), expected);
});

Deno.test("Sha512Hasher hashes pieces like sha512() hashes the whole", () => {
  const bytes = new Uint8Array(10_000).map((_, i) => (i * 31) & 0xff);
  const hasher = new Sha512Hasher();
  for (let i = 0; i < bytes.length; i += 999) hasher.update(bytes.subarray(i, i + 999));
  assert.deepEqual(hasher.digest(), sha512(bytes));
  assert.throws(() => hasher.update(bytes), /after digest\(\) was called/);
  assert.throws(() => hasher.digest(), /digest\(\) twice/);
  assert.equal(hashHex(new Sha512Hasher().digest()), EMPTY_SHA512);
});

Deno.test("hashesEqual() compares lengths and bytes", () => {
  const a = sha512(new Uint8Array([1]));
  assert.ok(hashesEqual(a, a.slice()));
  assert.ok(!hashesEqual(a, a.subarray(0, 63)));
  const b = a.slice();
  b[63] = b[63]! ^ 1;
  assert.ok(!hashesEqual(a, b));
});
