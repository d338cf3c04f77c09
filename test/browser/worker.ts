// The browser test's Web Worker: runs the checks where the library may use threads of its own.

import { runChecks } from './checks.js';

const scope = globalThis as unknown as { postMessage(m: unknown): void };
runChecks('module Web Worker').then(
  (r) => scope.postMessage(r),
  (e: unknown) => scope.postMessage({ context: 'module Web Worker', isolated: crossOriginIsolated, checks: [{ name: 'load', ok: false, detail: String((e as Error)?.stack ?? e) }] }),
);
