/**
 * Lent fetch events (`LentFetches`): a poll that lends keeps its fetch events until the next
 * poll or the close; one that copies destroys each at once.
 */

import { assert, assertEquals } from "../../tests/support/assert.ts";
import { LentFetches } from "./lent_fetches.ts";

function events() {
  const destroyed: string[] = [];
  const event = (name: string) => ({ name }) as unknown as Deno.PointerObject;
  const lending = new LentFetches((e) => destroyed.push((e as unknown as { name: string }).name));
  return { destroyed, event, lending };
}

Deno.test("a poll that copies destroys each fetch event at once", () => {
  const { destroyed, event, lending } = events();
  lending.begin(false);
  assert(!lending.borrowing);
  lending.done(event("a"));
  assertEquals(destroyed, ["a"]);
});

Deno.test("a poll that lends keeps its fetch events until the next poll", () => {
  const { destroyed, event, lending } = events();
  lending.begin(true);
  assert(lending.borrowing);
  lending.done(event("a"));
  lending.done(event("b"));
  assertEquals(destroyed, []);
  lending.begin(true);
  assertEquals(destroyed, ["a", "b"]);
  lending.done(event("c"));
  lending.release(); // the close
  assertEquals(destroyed, ["a", "b", "c"]);
  assert(!lending.borrowing);
  lending.done(event("d"));
  assertEquals(destroyed, ["a", "b", "c", "d"]);
});
