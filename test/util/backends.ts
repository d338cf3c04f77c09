// The backends the kernel suites compare: any loaded backend by name (without leaving it active), and the
// fast ones (every loaded backend but the reference, which they are compared against).

import type { Backend } from '../../src/backend/backend.js';
import { availableBackends, backend, setBackend } from '../../src/backend/registry.js';

/** The backend called `name`; the active one stays active. */
export function named(name: string): Backend {
  const saved = backend().name;
  setBackend(name);
  const b = backend();
  setBackend(saved);
  return b;
}

/** Every loaded backend but the reference. */
export const fastBackends = (): Backend[] => availableBackends().filter((n) => n !== 'reference').map(named);
