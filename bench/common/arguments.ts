// The benchmarks' command lines: flags, some followed by a value.

/**
 * Calls `handle` with each flag of `argv` in turn; `value()` takes the argument after the
 * flag as its value (and fails, naming the flag, when there is none).
 */
export function eachArgument(argv: readonly string[], handle: (arg: string, value: () => string) => void): void {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    handle(arg, () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    });
  }
}
