// Which backend runs the kernels. One is active at a time; the reference backend is the fallback.

import type { Backend } from './backend.js';
import { referenceBackend } from './reference.js';

const available = new Map<string, Backend>([[referenceBackend.name, referenceBackend]]);
let active: Backend = referenceBackend;

export function backend(): Backend {
  return active;
}

export function setBackend(name: string): void {
  const b = available.get(name);
  if (b === undefined) throw new Error(`unknown backend "${name}" (available: ${[...available.keys()].join(', ')})`);
  active = b;
}

export function registerBackend(b: Backend): void {
  available.set(b.name, b);
}

export function availableBackends(): string[] {
  return [...available.keys()];
}
