import assert from "node:assert/strict";
import { loadResult, resultMessage, storeResult, wireResults } from "./results.ts";

Deno.test("results: one, many, none; bad returns are refused with what was returned", () => {
  assert.deepEqual(wireResults(undefined), []);
  assert.equal(wireResults([{ value: "a" }, { value: new Uint8Array([1]) }]).length, 2);
  assert.throws(() => wireResults("text"), /must return nothing, an Error, or results/);
  assert.throws(() => wireResults({ value: 42 }), /value must be a Uint8Array or a string/);
  assert.throws(() => wireResults({ value: "a", key: null }), /key must be/);
});

Deno.test("results: stored in the registry and loaded back byte for byte", () => {
  const [result] = wireResults({
    key: new Uint8Array([0, 255, 7]),
    value: new Uint8Array([1, 2, 3, 250]),
    headers: { a: "b" },
  });
  const loaded = loadResult(JSON.parse(JSON.stringify(storeResult(result))));
  assert.deepEqual([...loaded.value], [1, 2, 3, 250]);
  assert.deepEqual([...loaded.key!], [0, 255, 7]);
  assert.deepEqual(loaded.headers, [["a", "b"]]);
});

Deno.test("results: the message carries the processor's headers, then the source's", () => {
  const [result] = wireResults({ value: "v", headers: { kind: "summary" } });
  const message = resultMessage(result, "out", { "ferry-source-path": "run1/a.csv" });
  assert.deepEqual(message.headers?.map((h) => h.key), ["kind", "ferry-source-path"]);
  assert.equal(message.key, null);
  assert.equal(new TextDecoder().decode(message.headers![1].value!), "run1/a.csv");
});
