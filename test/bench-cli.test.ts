// bench/cli.ts: the argument check every bench script runs before it starts anything.
import { describe, expect, it } from 'vitest';
import { cliOptions, wantsHelp, type CliSpec } from '../bench/cli.ts';

const spec: CliSpec = { values: ['--rounds', '--variants', '--node-flags', '--node-flag'], flags: ['--quick'], usage: 'usage: bench [--rounds N] [--quick]' };

describe('bench command-line options', () => {
  it('reads values, lists and flags it knows', () => {
    const cli = cliOptions(['--rounds', '3', '--quick', '--variants', 'a,b'], spec);
    expect(cli.val('--rounds')).toBe('3');
    expect(cli.val('--node-flags')).toBeUndefined();
    expect(cli.list('--variants', ['a', 'b', 'c'])).toEqual(['a', 'b']);
    expect(cli.list('--variants', ['a', 'b', 'c'] as const, ['c'])).toEqual(['a', 'b']);
    expect(cliOptions([], spec).list('--variants', ['a', 'b', 'c'], ['c'])).toEqual(['c']);
    expect(() => cli.list('--variants', ['a', 'c'])).toThrow('--variants: unknown "b" (known: a, c)');
  });

  it('refuses an unknown argument or a stray value, with the usage text', () => {
    expect(() => cliOptions(['--round', '3'], spec)).toThrow('unknown argument "--round"\n\nusage: bench [--rounds N] [--quick]');
    expect(() => cliOptions(['--quick', '3'], spec)).toThrow('unknown argument "3"');
    expect(() => cliOptions(['--rounds', '3', 'extra'], spec)).toThrow('unknown argument "extra"');
  });

  it('refuses an option without its value; a value that looks like an option is still its value', () => {
    expect(() => cliOptions(['--quick', '--rounds'], spec)).toThrow('--rounds needs a value\n\nusage: bench');
    expect(cliOptions(['--node-flags', '--max-semi-space-size=16'], spec).nodeFlags()).toEqual(['--max-semi-space-size=16']);
    // An option may repeat (bench:gc's --node-flag): each occurrence takes its value.
    expect(() => cliOptions(['--node-flag', '--a', '--node-flag', '--b', '--quick'], spec)).not.toThrow();
  });

  it('checks --node-flags: Node options only', () => {
    expect(() => cliOptions(['--node-flags', '--a b'], spec).nodeFlags()).toThrow(/--node-flags takes Node options starting with --.*got "b"/);
    expect(cliOptions([], spec).nodeFlags()).toBeUndefined();
  });

  it('knows a request for help', () => {
    expect(wantsHelp(['--rounds', '3', '--help'])).toBe(true);
    expect(wantsHelp(['-h'])).toBe(true);
    expect(wantsHelp(['--rounds', '3'])).toBe(false);
  });
});
