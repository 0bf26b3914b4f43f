/**
 * `toUploadError` and `readFailure` (`file_failures.ts`): each kind of failure of an attempt
 * becomes an `UploadError` of the right kind whose message names the file.
 */

import { assert, assertEquals } from "../../tests/support/assert.ts";
import { ErrorCode, KafkaError } from "../kafka/mod.ts";
import { UploadError } from "./errors.ts";
import { FileChanged, readFailure, toUploadError } from "./file_failures.ts";

Deno.test("an attempt's failure becomes an upload error of its kind, naming the file", () => {
  const cases: [unknown, string][] = [
    [new FileChanged(), "changed"],
    [new DOMException("stop", "AbortError"), "interrupted"],
    [new Deno.errors.NotFound("gone"), "missing"],
    [new Deno.errors.PermissionDenied("no"), "unreadable"],
    [new KafkaError(ErrorCode.MSG_TIMED_OUT, "MSG_TIMED_OUT", "timed out"), "send"],
    [new Error("odd"), "unreadable"],
    ["a string", "unreadable"],
  ];
  for (const [error, kind] of cases) {
    const upload = toUploadError(error, "run/a.dat");
    assertEquals(upload.kind, kind, String(error));
    assertEquals(upload.path, "run/a.dat");
    assert(upload.message.includes('"run/a.dat"'), upload.message);
  }
  const given = new UploadError("log", "b", 'File "b": the log failed.');
  assert(toUploadError(given, "b") === given);
});

Deno.test("a file that cannot be opened is unreadable; one deleted meanwhile stays not found", () => {
  const gone = new Deno.errors.NotFound("gone");
  assert(readFailure(gone, "a") === gone);
  const denied = readFailure(new Deno.errors.PermissionDenied("denied"), "a");
  assert(denied instanceof UploadError && denied.kind === "unreadable");
  assertEquals(denied.message, 'File "a" cannot be read: denied');
});
