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

/** A flag's value as a number above zero (`integer`: a whole one), or an error naming the flag. */
export function positiveNumber(flag: string, text: string, integer = false): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new Error(`${flag} must be a positive ${integer ? 'integer' : 'number'}`);
  }
  return value;
}
