// The native backend's two paths (GEMM and GELU on 256-bit or 512-bit vectors): it names the one it took (512-bit where the CPU has AVX-512F and
// RECURRENT_NO_AVX512 is not set, else 256-bit), and on a CPU with AVX-512 the other path, the one an
// AVX2-only CPU takes, is checked too: the bit-equality suites rerun in a child with RECURRENT_NO_AVX512=1.
// Not here: the kernels' checks themselves (backend-kernels.test.ts, recurrent-loop.test.ts).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { availableBackends, backend } from '../src/backend/registry.js';
import type { WasmBackend } from '../src/backend/wasm/wasm-backend.js';
import { named } from './util/backends.js';

const native = availableBackends().includes('native') ? (named('native') as WasmBackend) : null;
const off = process.env.RECURRENT_NO_AVX512;
const switchedOff = off !== undefined && off !== '' && off !== '0';

test('native: the GEMM path is avx512 where the CPU has AVX-512F and RECURRENT_NO_AVX512 is not set, else avx2', {
  skip: (native === null || !existsSync('/proc/cpuinfo')) && 'needs the native backend and /proc/cpuinfo (Linux)',
}, () => {
  const flags = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1].trim().split(/\s+/) ?? [];
  assert.equal(native!.nativeIsa, flags.includes('avx512f') && !switchedOff ? 'avx512' : 'avx2');
  assert.equal(named('wasm').name, 'wasm');
  assert.equal((named('wasm') as WasmBackend).nativeIsa, null);
});

// The bit-equality tests compare native with the wasm FMA build, so they need relaxed SIMD (a flag on Node 20).
const suites = ['backend-kernels', 'recurrent-loop', 'native-isa'].map((f) => fileURLToPath(new URL(`./${f}.test.js`, import.meta.url)));

test('native: with RECURRENT_NO_AVX512=1 the 256-bit GEMM path is taken and still equals the wasm FMA build bit for bit', {
  // Once per `npm test`, in its native pass; on an AVX2-only CPU the main run already took this path.
  skip: (native?.nativeIsa !== 'avx512' || backend().name !== 'native') && 'runs in the native pass, on a CPU where the native GEMM is avx512',
}, () => {
  const env: NodeJS.ProcessEnv = { ...process.env, RECURRENT_NO_AVX512: '1', RECURRENT_BACKEND: 'native' };
  delete env.NODE_TEST_CONTEXT; // else the child's runner takes itself for a nested run and runs no files
  const child = spawnSync(process.execPath, [
    '--experimental-wasm-relaxed-simd', '--test', '--test-reporter=tap',
    '--test-name-pattern=^native: .*(wasm FMA build bit for bit|GEMM path is)', ...suites,
  ], { encoding: 'utf8', env, timeout: 600_000 });
  const out = `${child.stdout}\n${child.stderr}`;
  assert.equal(child.status, 0, `the child failed:\n${out.slice(-4000)}`);
  // Each check ran (was neither filtered out nor skipped) and passed: the path check and the two suites' bit-equality tests.
  const ran = out.split('\n').filter((l) => /^\s*ok \d+ - native: /.test(l) && !/# SKIP/.test(l));
  for (const what of [/GEMM path is avx512/, /gemm and packB \+ gemmPacked equal the wasm FMA build bit for bit/, /every loop cell.*bit for bit/, /GELU .*equal the wasm FMA build bit for bit/]) {
    assert.ok(ran.some((l) => what.test(l)), `the child did not run and pass ${what}:\n${out.slice(-4000)}`);
  }
});
