// The two public entry points: `recurrent` (src/index.ts) must load in browsers, so nothing it reaches
// through static imports may be a Node built-in (Node-only modules are reached by guarded dynamic
// import() where `process.versions.node` says so); `recurrent/node` (src/node.ts) adds the file I/O.
// The browser itself runs the library in test/browser/ (npm run test:browser).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url)); // dist/test
const srcDir = resolve(here, '..', 'src'); // dist/src

/** Static specifiers of a compiled ES module: `import … from '…'`, `export … from '…'`, `import '…'` (not import()). */
function staticImports(file: string): string[] {
  const code = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of code.matchAll(/^\s*(?:import|export)\s(?:[^'"()]*?\sfrom\s)?['"]([^'"]+)['"]/gm)) out.push(m[1]);
  return out;
}

/** Every module reachable from `entry` by static imports, with the chain that reaches it. */
function staticGraph(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>([[entry, [entry]]]);
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const spec of staticImports(file)) {
      const key = spec.startsWith('.') ? resolve(dirname(file), spec) : spec;
      if (seen.has(key)) continue;
      seen.set(key, [...seen.get(file)!, key]);
      if (spec.startsWith('.')) queue.push(key);
    }
  }
  return seen;
}

test('recurrent (src/index.ts) reaches no Node built-in through static imports', () => {
  const graph = staticGraph(join(srcDir, 'index.js'));
  assert.ok(graph.size > 40, `the graph should span the library, found ${graph.size} modules`);
  const bare = [...graph.entries()].filter(([k]) => !k.startsWith('/'));
  const show = (chain: string[]): string => chain.map((c) => (c.startsWith('/') ? relative(srcDir, c) : c)).join(' → ');
  assert.deepEqual(bare.map(([, chain]) => show(chain)), [], 'modules the browser entry must not import statically');
});

test('recurrent/onnx (src/onnx.ts) loads in browsers: its one package is @bufbuild/protobuf, and no Node built-in', () => {
  const graph = staticGraph(join(srcDir, 'onnx.js'));
  const bare = [...new Set([...graph.keys()].filter((k) => !k.startsWith('/')))].sort();
  assert.deepEqual(bare, ['@bufbuild/protobuf', '@bufbuild/protobuf/codegenv2']);
  assert.ok(!graph.has(join(srcDir, 'node.js')), 'recurrent/onnx must not reach recurrent/node');
});

test('recurrent/node (src/node.ts) exports the universal API and the file I/O', async () => {
  const universal = await import('../src/index.js');
  const node = await import('../src/node.js');
  for (const k of Object.keys(universal)) assert.ok(k in node, `recurrent/node lacks ${k}`);
  for (const k of ['trainLanguageModel', 'loadCheckpoint', 'checkpointDirectory', 'loadCheckpointDirectory', 'readTextFile']) {
    assert.equal(typeof (node as Record<string, unknown>)[k], 'function', `recurrent/node: ${k}`);
    assert.ok(!(k in universal), `recurrent (the browser entry) should not export ${k}`);
  }
  // The training engine, its tasks and an in-memory store load in browsers (a Web Worker trains with them).
  for (const k of ['trainTask', 'memoryStore', 'languageModelTask', 'classifierTask', 'seq2seqTask', 'validationLoss']) {
    assert.equal(typeof (universal as Record<string, unknown>)[k], 'function', `recurrent: ${k}`);
  }
});
