/**
 * What the `ferry` program hands to each subcommand.
 *
 * @module
 */

/** The state a subcommand's action reports through. */
export interface CliContext {
  /** The exit code the action chose; 0 unless set. */
  exitCode: number;
  /** Aborted on the first SIGINT/SIGTERM (a second one exits at once with 130). */
  readonly signal: AbortSignal;
  /** Writes a line of the command's results to standard output. */
  print(line: string): void;
}

/** Renames of OpenMSIStream's snake_case flags to Ferry's kebab-case ones, per subcommand. */
export type FlagAliases = Readonly<Record<string, string>>;
