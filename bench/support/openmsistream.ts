/**
 * OpenMSIStream as a benchmark contender: the folder of its programs in the project's virtual
 * environment (made by `scripts/openmsistream/venv.sh` on first use).
 *
 * @module
 */

const VENV_SCRIPT = new URL("../../scripts/openmsistream/venv.sh", import.meta.url).pathname;

/**
 * The `bin` folder of the OpenMSIStream virtual environment (`DataFileUploadDirectory`,
 * `DataFileDownloadDirectory`, ...), creating the environment when missing.
 *
 * @throws {Error} when `scripts/openmsistream/venv.sh` fails (its output is on stderr).
 */
export async function openMsiStreamBin(): Promise<string> {
  const venv = await new Deno.Command("bash", {
    args: [VENV_SCRIPT],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!venv.success) throw new Error("scripts/openmsistream/venv.sh failed.");
  return new TextDecoder().decode(venv.stdout).trim().replace(/\/python$/, "");
}
