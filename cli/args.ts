// Parsing and checking command-line values: every bad value is a one-line error naming the option.

import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {}

export function parse(argv: string[], options: NonNullable<ParseArgsConfig['options']>): Record<string, string | boolean | undefined> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    return values as Record<string, string | boolean | undefined>;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    // node's messages are long and mention parseArgs; keep the useful first sentence.
    const first = (e as Error).message.split('\n')[0];
    const unknown = /^Unknown option '([^']*)'/.exec(first);
    if (unknown) throw new UsageError(`unknown option ${unknown[1]}`);
    const ambiguous = /^Option '([^']*)' argument is ambiguous/.exec(first);
    if (ambiguous) throw new UsageError(`${ambiguous[1]} needs a value (write ${ambiguous[1]}=-X for a value starting with a dash)`);
    const missing = /^Option '([^']*)' argument missing/.exec(first);
    if (missing) throw new UsageError(`${missing[1].split(', ').pop()!.split(' ')[0]} needs a value`);
    throw new UsageError(first.replace(/\.$/, ''));
  }
}

export function int(values: Record<string, unknown>, name: string, fallback: number, min = 1): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) {
    const what = min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer ≥ ${min}`;
    throw new UsageError(`--${name} must be ${what}, got "${String(raw)}"`);
  }
  return v;
}

export function num(values: Record<string, unknown>, name: string, fallback: number, check: (v: number) => boolean, expected: string): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (String(raw).trim() === '' || !Number.isFinite(v) || !check(v)) throw new UsageError(`--${name} must be ${expected}, got "${String(raw)}"`);
  return v;
}

export function oneOf<T extends string>(values: Record<string, unknown>, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = values[name];
  if (raw === undefined) return fallback;
  if (!allowed.includes(raw as T)) throw new UsageError(`unknown --${name} "${String(raw)}" (choose one of: ${allowed.join(', ')})`);
  return raw as T;
}

export function str(values: Record<string, unknown>, name: string): string | undefined {
  const raw = values[name];
  return raw === undefined ? undefined : String(raw);
}

/**
 * `recurrent GROUP COMMAND ...`: runs `commands[COMMAND]` on the rest of argv; `help` (or -h, --help)
 * prints `help` and exits 0, no command prints it and exits 2, an unknown one is a usage error.
 */
export async function runSubcommand(
  group: string, help: string, commands: Readonly<Record<string, (argv: string[]) => number | Promise<number>>>, argv: string[],
): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === 'help' || cmd === '--help' || cmd === '-h' || cmd === undefined) {
    process.stdout.write(help + '\n');
    return cmd === undefined ? 2 : 0;
  }
  if (!Object.prototype.hasOwnProperty.call(commands, cmd)) {
    throw new UsageError(`unknown ${group} command "${cmd}" (commands: ${[...Object.keys(commands), 'help'].join(', ')})`);
  }
  return commands[cmd](rest);
}

/** `--NAME C1,C2,...`: positive whole numbers separated by commas (a CNN's channels per stage), `fallback` when not given. */
export function intList(values: Record<string, unknown>, name: string, fallback: readonly number[], what = 'positive whole numbers'): number[] {
  const raw = str(values, name);
  if (raw === undefined) return [...fallback];
  const list = raw.split(',').map((c) => Number(c.trim()));
  if (list.some((c) => !Number.isInteger(c) || c < 1)) throw new UsageError(`--${name} "${raw}": expected ${what} separated by commas, e.g. ${fallback.join(',')}`);
  return list;
}

/**
 * `--checkpoint a,b,...` for inference: each directory loaded by `load`, in eval mode (no dropout), as an
 * ensemble; `agree(m, m0)` throws when member m cannot join member 0. Members already loaded are freed
 * when a later one fails.
 */
export function loadMembers<M extends { model: { eval(): unknown; dispose(): void } }>(
  dirs: string, load: (dir: string) => M, agree: (m: M & { dir: string }, m0: M & { dir: string }) => void,
): Array<M & { dir: string }> {
  const list = dirs.split(',').map((d) => d.trim()).filter((d) => d !== '');
  if (list.length === 0) throw new UsageError('--checkpoint needs a directory');
  const members: Array<M & { dir: string }> = [];
  try {
    for (const dir of list) {
      const m = { dir, ...load(dir) };
      members.push(m);
      m.model.eval();
      if (members.length > 1) agree(m, members[0]);
    }
  } catch (e) {
    for (const m of members) m.model.dispose();
    throw e;
  }
  return members;
}

/** `--beam N` and `--length-penalty A`, which ranks beam-search hypotheses and so needs a beam of 2 or more. */
export function beamFlags(values: Record<string, unknown>): { beam: number; lengthPenalty: number } {
  const beam = int(values, 'beam', 1);
  if (values['length-penalty'] !== undefined && beam < 2) throw new UsageError('--length-penalty ranks beam-search hypotheses: it needs --beam 2 or more');
  return { beam, lengthPenalty: num(values, 'length-penalty', 1, (x) => x >= 0, 'a non-negative number') };
}
