// PyTorch parity of attention: every test/fixtures/attention/*.safetensors (made by
// scripts/make-attention-fixtures.py; see test/fixtures/README.md) builds an Attention from its metadata,
// loads the weights under their state_dict names, runs prepare + forward on the fixture's query, keys and
// lengths, then backward on sum(context ⊙ dC) + sum(α ⊙ dα), and compares the context, the weights and
// the gradients of query, keys and every parameter. Runs on whatever backend RECURRENT_BACKEND selects.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ops from '../src/autograd/ops.js';
import { backward } from '../src/autograd/tape.js';
import { backend } from '../src/backend/registry.js';
import { decodeSafetensors, type NamedArray } from '../src/io/safetensors.js';
import { Attention, attentionKinds, type AttentionKind } from '../src/nn/attention.js';
import { Rng } from '../src/random/rng.js';
import { Tensor, tidy } from '../src/tensor/tensor.js';
import { compareToFixture, f32, fixturesDir } from './util/fixtures.js';

/**
 * |got - expected| <= TOL · max|expected| over each whole tensor. The references are float64 results
 * rounded to float32; ours are float32 throughout, a few roundings deep: the worst seen is 1.3e-7 on
 * the reference backend and 4.4e-7 on wasm (bahdanau's grad of query.weight), so 2e-6 leaves ~5x room.
 */
const TOL = 2e-6;
/** Below this, a tensor's scale is taken as this (an all-zero reference must come out ~zero). */
const FLOOR = 1e-6;

interface AttentionFixtureConfig {
  kind: AttentionKind;
  querySize: number;
  keySize: number;
  /** null: the layer's default (querySize). */
  attentionSize: number | null;
  batch: number;
  sourceLen: number;
  /** null: one query per row, (B, Q); else Tq queries per row, (B, Tq, Q). */
  queries: number | null;
  /** null: every row has all sourceLen positions (no lengths passed). */
  lengths: number[] | null;
}

/** What is not a parameter in a fixture: everything else loads as the state dict. */
const NAMESPACES = ['input.', 'upstream.', 'expected.', 'grad.'];

const dir = join(fixturesDir(), 'attention');
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort() : [];

function load(file: string): { tensors: Map<string, NamedArray>; cfg: AttentionFixtureConfig } {
  const { tensors, metadata } = decodeSafetensors(readFileSync(join(dir, file)), file);
  assert.ok(metadata.config, `${file}: no "config" in __metadata__`);
  const cfg = JSON.parse(metadata.config) as AttentionFixtureConfig;
  assert.ok((attentionKinds as readonly string[]).includes(cfg.kind), `${file}: unknown attention kind ${JSON.stringify(cfg.kind)}`);
  return { tensors, cfg };
}

test('attention fixtures are present and cover every kind, one and several queries, a length-1 row, no lengths', () => {
  assert.ok(files.length > 0, `no fixtures in ${dir} (run: /usr/bin/python3 scripts/make-attention-fixtures.py)`);
  const configs = files.map((f) => load(f).cfg);
  for (const kind of attentionKinds) assert.ok(configs.some((c) => c.kind === kind && c.queries === null), `no single-query ${kind} fixture`);
  for (const kind of ['luong-dot', 'luong-general'] as const) assert.ok(configs.some((c) => c.kind === kind && c.queries !== null), `no ${kind} fixture with several queries per row`);
  assert.ok(configs.some((c) => c.lengths !== null && c.lengths.includes(1) && new Set(c.lengths).size > 1), 'no fixture with mixed lengths including 1');
  assert.ok(configs.some((c) => c.lengths === null), 'no fixture without lengths');
  assert.ok(configs.some((c) => c.kind === 'bahdanau' && c.attentionSize !== null && c.attentionSize !== c.querySize), 'no bahdanau fixture with attentionSize != querySize');
  assert.ok(configs.some((c) => c.kind === 'luong-general' && c.keySize !== c.querySize), 'no luong-general fixture with keySize != querySize');
});

for (const file of files) {
  test(`PyTorch parity (${backend().name} backend): attention/${file}`, () => {
    const { tensors, cfg } = load(file);
    const att = new Attention({
      kind: cfg.kind,
      querySize: cfg.querySize,
      keySize: cfg.keySize,
      ...(cfg.attentionSize !== null ? { attentionSize: cfg.attentionSize } : {}),
    }, new Rng(0));
    const owned: Tensor[] = [];
    const leaf = (name: string): Tensor => {
      const t = f32(file, tensors, name);
      const out = Tensor.from(t.data, t.shape, true);
      owned.push(out);
      return out;
    };
    try {
      const state = new Map([...tensors].filter(([k]) => !NAMESPACES.some((ns) => k.startsWith(ns))).map(([k]) => {
        const t = f32(file, tensors, k);
        return [k, { shape: t.shape, data: t.data }];
      }));
      att.loadStateDict(state); // throws naming any missing, extra or misshapen parameter
      const query = leaf('input.query'); // (B, Q) or (B, Tq, Q)
      const keys = leaf('input.keys'); // (B, S, E)
      const lengthsRaw = tensors.get('input.lengths');
      const lengths = lengthsRaw === undefined ? undefined : Array.from(lengthsRaw.data as Int32Array);
      assert.deepEqual(lengths ?? null, cfg.lengths, `${file}: input.lengths vs config.lengths`);
      att.zeroGrad();

      const problems: string[] = [];
      tidy(() => {
        const { context, weights } = att.forward(query, att.prepare(keys, lengths)); // (B, [Tq,] E), (B, [Tq,] S)
        for (const [label, got] of [['context', context], ['weights', weights]] as const) {
          const want = f32(file, tensors, `expected.${label}`);
          const p = compareToFixture(label, got, want, TOL, FLOOR);
          if (p) problems.push(p);
          // PyTorch's softmax over -inf gives exact zeros past each length; so must ours.
          if (label === 'weights') want.data.forEach((w, i) => { if (w === 0 && got.data[i] !== 0) problems.push(`weights[${i}]: ${got.data[i]}, PyTorch's is exactly 0 (padding)`); });
        }
        const dot = (t: Tensor, name: string): Tensor => {
          const d = f32(file, tensors, name);
          return ops.sum(ops.mul(t, Tensor.from(d.data, d.shape)));
        };
        backward(ops.add(dot(context, 'upstream.context'), dot(weights, 'upstream.weights')));
      });

      const grads: Array<[string, Tensor | null]> = [['grad.query', query.grad], ['grad.keys', keys.grad]];
      for (const [name, p] of att.namedParameters()) grads.push([`grad.${name}`, p.grad]);
      for (const [name, g] of grads) {
        const p = compareToFixture(name, g, f32(file, tensors, name), TOL, FLOOR);
        if (p) problems.push(p);
      }
      for (const k of tensors.keys()) if (k.startsWith('grad.') && !grads.some(([n]) => n === k)) problems.push(`${k}: in the fixture but not checked (no such input or parameter)`);

      const shape = `${cfg.kind} Q=${cfg.querySize} E=${cfg.keySize}${cfg.attentionSize !== null ? ` A=${cfg.attentionSize}` : ''} B=${cfg.batch} S=${cfg.sourceLen}${cfg.queries !== null ? ` Tq=${cfg.queries}` : ''}${lengths ? ` lengths=[${lengths.join(',')}]` : ''}`;
      assert.ok(problems.length === 0, `${file} (${shape}):\n  ${problems.join('\n  ')}`);
    } finally {
      for (const t of owned) t.dispose();
      att.dispose();
    }
  });
}
