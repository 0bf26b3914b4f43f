/** The typed-array hash table (`HashTable`): many keys, past several growths, all found. */

import { assertEquals } from "../../tests/support/assert.ts";
import { HashTable, stringHash } from "./hash_table.ts";

Deno.test("HashTable finds every key it holds past several growths, and none it does not", () => {
  const table = new HashTable(4, 2);
  const key = (i: number) => [...stringHash(`path-${i}`), i, 0xffffffff - i];
  for (let i = 0; i < 20_000; i++) {
    const entry = table.add(key(i));
    table.set(entry, 0, i * 1.5);
    table.set(entry, 1, NaN);
  }
  assertEquals(table.count, 20_000);
  for (let i = 0; i < 20_000; i++) {
    const entry = table.find(key(i));
    assertEquals(entry, i);
    assertEquals(table.get(entry, 0), i * 1.5);
    assertEquals(Number.isNaN(table.get(entry, 1)), true);
  }
  // Same path hash, other words: other keys.
  for (let i = 0; i < 1000; i++) {
    assertEquals(table.find([...stringHash(`path-${i}`), i + 1, 0]), -1);
  }
});
