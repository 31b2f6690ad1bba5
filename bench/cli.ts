// Command-line options of the bench scripts: every argument must be one the script knows (a typo
// must not start an hour-long run with the defaults), an option with a value must have one, and
// `--help` prints the script's usage text.

/** The arguments a bench script takes: options with a value, flags without, and its usage text. */
export interface CliSpec {
  values: readonly string[];
  flags: readonly string[];
  usage: string;
}

/** True when argv asks for the usage text instead of a run. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

/** `--help`: prints the usage text and ends the process (call it before anything starts). */
export function exitWithUsageIfAsked(argv: readonly string[], usage: string): void {
  if (!wantsHelp(argv)) return;
  console.log(usage);
  process.exit(0);
}

/**
 * `--name value` and `--name a,b` (checked against the known values) lookups in argv. Every
 * argument must be one of `spec`'s (a typo must not start an hour-long run with defaults), and an
 * option with a value must have one.
 */
export function cliOptions(argv: readonly string[], spec: CliSpec): {
  val: (name: string) => string | undefined;
  list: <T extends string>(name: string, all: readonly T[], defaults?: readonly T[]) => T[];
  /** `--node-flags "--a --b"`: Node options for every service process (undefined when not given). */
  nodeFlags: () => string[] | undefined;
} {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (spec.values.includes(a)) {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value\n\n${spec.usage}`);
      i++;
    } else if (!spec.flags.includes(a)) throw new Error(`unknown argument "${a}"\n\n${spec.usage}`);
  }
  const val = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const list = <T extends string>(name: string, all: readonly T[], defaults: readonly T[] = all): T[] => {
    const v = val(name);
    if (!v) return [...defaults];
    const items = v.split(',') as T[];
    for (const it of items) if (!all.includes(it)) throw new Error(`${name}: unknown "${it}" (known: ${all.join(', ')})`);
    return items;
  };
  const nodeFlags = (): string[] | undefined => {
    const flags = val('--node-flags')?.split(/\s+/).filter((f) => f !== '');
    if (flags === undefined) return undefined;
    const bad = flags.find((f) => !f.startsWith('--'));
    if (bad !== undefined || flags.length === 0) throw new Error(`--node-flags takes Node options starting with --, e.g. --node-flags "--max-semi-space-size=16" (got "${bad ?? ''}")`);
    return flags;
  };
  return { val, list, nodeFlags };
}
