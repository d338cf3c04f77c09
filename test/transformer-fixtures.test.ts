// PyTorch parity of the Transformer layers: every test/fixtures/transformer/*.safetensors (made by
// scripts/make-transformer-fixtures.py from nn.MultiheadAttention, nn.TransformerEncoderLayer,
// nn.TransformerDecoderLayer and nn.Transformer; see test/fixtures/README.md) builds our layer from its
// metadata, loads PyTorch's state_dict as it is, runs the fixture's inputs and masks, backpropagates
// sum(output ⊙ dOut) (+ sum(weights ⊙ dW)), and compares the output, the weights and the gradient of every
// input and parameter. Runs on whatever backend RECURRENT_BACKEND selects.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ops from '../src/autograd/ops.js';
import { backward } from '../src/autograd/tape.js';
import { backend } from '../src/backend/registry.js';
import { decodeSafetensors, type NamedArray } from '../src/io/safetensors.js';
import type { Module } from '../src/nn/module.js';
import {
  MultiheadAttention, Transformer, TransformerDecoderLayer, TransformerEncoderLayer, boolMask, type AttentionMask,
} from '../src/nn/transformer/index.js';
import { Rng } from '../src/random/rng.js';
import { Tensor, tidy } from '../src/tensor/tensor.js';
import { compareToFixture, f32, fixturesDir } from './util/fixtures.js';

/** |got - expected| <= TOL · max|expected| over each whole tensor (the bound). */
const TOL = 1e-4;
const FLOOR = 1e-6;

interface FixtureConfig {
  kind: 'mha' | 'encoder-layer' | 'decoder-layer' | 'transformer';
  options: Record<string, unknown>;
  masks: Record<string, 'bool' | 'float' | 'causal'>;
  attention: 'self' | 'kv' | 'separate' | null;
  needWeights: boolean | null;
  averageAttnWeights: boolean | null;
  numLayers: number | null;
}

const NAMESPACES = ['input.', 'mask.', 'upstream.', 'expected.', 'grad.'];
const dir = join(fixturesDir(), 'transformer');
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort() : [];

function load(file: string): { tensors: Map<string, NamedArray>; cfg: FixtureConfig } {
  const { tensors, metadata } = decodeSafetensors(readFileSync(join(dir, file)), file);
  assert.ok(metadata.config, `${file}: no "config" in __metadata__`);
  return { tensors, cfg: JSON.parse(metadata.config) as FixtureConfig };
}

const camel = (s: string): string => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
/** The flag our layers take instead of PyTorch's generate_square_subsequent_mask for this mask. */
const causalFlag: Record<FixtureConfig['kind'], Record<string, string>> = {
  mha: { attn_mask: 'isCausal' },
  'encoder-layer': { src_mask: 'isCausal' },
  'decoder-layer': { tgt_mask: 'tgtIsCausal', memory_mask: 'memoryIsCausal' },
  transformer: { src_mask: 'srcIsCausal', tgt_mask: 'tgtIsCausal', memory_mask: 'memoryIsCausal' },
};

test('transformer fixtures are present and cover every layer, mask kind, layout, norm placement and activation', () => {
  assert.ok(files.length > 0, `no fixtures in ${dir} (run: /usr/bin/python3 scripts/make-transformer-fixtures.py)`);
  const cfgs = files.map((f) => load(f).cfg);
  for (const kind of ['mha', 'encoder-layer', 'decoder-layer', 'transformer'] as const) {
    for (const bf of [false, true]) assert.ok(cfgs.some((c) => c.kind === kind && c.options.batchFirst === bf), `no ${kind} fixture with batchFirst ${bf}`);
  }
  for (const kind of ['encoder-layer', 'decoder-layer', 'transformer'] as const) {
    for (const nf of [false, true]) assert.ok(cfgs.some((c) => c.kind === kind && c.options.normFirst === nf), `no ${kind} fixture with normFirst ${nf}`);
    for (const act of ['relu', 'gelu']) assert.ok(cfgs.some((c) => c.kind === kind && c.options.activation === act), `no ${kind} fixture with ${act}`);
  }
  for (const att of ['self', 'kv', 'separate']) assert.ok(cfgs.some((c) => c.attention === att), `no ${att}-attention fixture`);
  for (const m of ['bool', 'float', 'causal']) {
    assert.ok(cfgs.some((c) => c.kind === 'mha' && c.masks.attn_mask === m), `no MultiheadAttention fixture with a ${m} attn_mask`);
  }
  assert.ok(cfgs.some((c) => c.kind === 'mha' && c.averageAttnWeights === false) && cfgs.some((c) => c.averageAttnWeights === true), 'weights per head and averaged');
  assert.ok(cfgs.some((c) => c.needWeights === false), 'need_weights false');
  assert.ok(cfgs.some((c) => c.options.bias === false && c.kind !== 'mha'), 'a layer without biases');
});

function build(cfg: FixtureConfig): Module {
  const rng = new Rng(0);
  const o = cfg.options as { dModel: number; nhead: number; embedDim: number; numHeads: number }; // the layer's options, by construction
  switch (cfg.kind) {
    case 'mha': return new MultiheadAttention(o, rng).eval();
    case 'encoder-layer': return new TransformerEncoderLayer(o, rng).eval();
    case 'decoder-layer': return new TransformerDecoderLayer(o, rng).eval();
    case 'transformer': return new Transformer({ ...o, numEncoderLayers: cfg.numLayers!, numDecoderLayers: cfg.numLayers! }, rng).eval();
    default: return cfg.kind satisfies never;
  }
}

const worst: string[] = [];

for (const file of files) {
  test(`PyTorch parity (${backend().name} backend): transformer/${file}`, () => {
    const { tensors, cfg } = load(file);
    const module = build(cfg);
    const owned: Tensor[] = [];
    try {
      const state = new Map([...tensors].filter(([k]) => !NAMESPACES.some((ns) => k.startsWith(ns))).map(([k]) => {
        const t = f32(file, tensors, k);
        return [k, { shape: t.shape, data: t.data }];
      }));
      module.loadStateDict(state); // PyTorch's names and shapes: throws naming any that differ
      const inputs = new Map<string, Tensor>();
      for (const k of tensors.keys()) {
        if (!k.startsWith('input.')) continue;
        const t = f32(file, tensors, k);
        const leaf = Tensor.from(t.data, t.shape, true);
        owned.push(leaf);
        inputs.set(k.slice('input.'.length), leaf);
      }
      const masks: Record<string, AttentionMask | boolean> = {};
      for (const [name, kind] of Object.entries(cfg.masks)) {
        if (kind === 'causal') {
          masks[causalFlag[cfg.kind][name]] = true;
          continue;
        }
        const t = tensors.get(`mask.${name}`)!;
        if (kind === 'bool') masks[camel(name)] = boolMask(t.data as Int32Array, t.shape); // I32 0/1
        else {
          const m = Tensor.from(t.data as Float32Array, t.shape);
          owned.push(m);
          masks[camel(name)] = m;
        }
      }
      module.zeroGrad();

      const problems: string[] = [];
      let ratio = 0;
      const check = (label: string, got: Tensor | null, name: string): void => {
        const want = f32(file, tensors, name);
        const p = compareToFixture(label, got, want, TOL, FLOOR);
        if (p) problems.push(p);
        let scale = FLOOR;
        want.data.forEach((w) => { scale = Math.max(scale, Math.abs(w)); });
        const g = got?.data ?? new Float32Array(want.data.length);
        want.data.forEach((w, i) => { ratio = Math.max(ratio, Math.abs(g[i] - w) / scale); });
      };
      tidy(() => {
        let output: Tensor;
        let weights: Tensor | null = null;
        const x = (name: string): Tensor => inputs.get(name)!;
        if (cfg.kind === 'mha') {
          const q = x('query');
          const k = inputs.get('key') ?? q;
          const v = inputs.get('value') ?? k;
          ({ output, weights } = (module as MultiheadAttention).forward(q, k, v, { ...masks, needWeights: cfg.needWeights!, averageAttnWeights: cfg.averageAttnWeights! }));
        } else if (cfg.kind === 'encoder-layer') output = (module as TransformerEncoderLayer).forward(x('src'), masks);
        else if (cfg.kind === 'decoder-layer') output = (module as TransformerDecoderLayer).forward(x('tgt'), x('memory'), masks);
        else output = (module as Transformer).forward(x('src'), x('tgt'), masks);
        check('output', output, 'expected.output');
        if (cfg.needWeights) check('weights', weights, 'expected.weights');
        else assert.equal(weights, null, 'needWeights false returns no weights');
        const dot = (t: Tensor, name: string): Tensor => {
          const d = f32(file, tensors, name);
          return ops.sum(ops.mul(t, Tensor.from(d.data, d.shape)));
        };
        backward(weights === null ? dot(output, 'upstream.output') : ops.add(dot(output, 'upstream.output'), dot(weights, 'upstream.weights')));
      });
      const checked = new Set<string>();
      for (const [name, t] of inputs) {
        check(`grad.input.${name}`, t.grad, `grad.input.${name}`);
        checked.add(`grad.input.${name}`);
      }
      for (const [name, p] of module.namedParameters()) {
        check(`grad.${name}`, p.grad, `grad.${name}`);
        checked.add(`grad.${name}`);
      }
      for (const k of tensors.keys()) if (k.startsWith('grad.') && !checked.has(k)) problems.push(`${k}: in the fixture but not checked`);
      worst.push(`${file.replace('.safetensors', '')}: ${ratio.toExponential(1)}`);
      assert.ok(problems.length === 0, `${file}:\n  ${problems.join('\n  ')}`);
    } finally {
      for (const t of owned) t.dispose();
      module.dispose();
    }
  });
}

test('worst relative difference per fixture (of each tensor\'s largest magnitude)', (t) => {
  t.diagnostic(`${backend().name}: ${worst.join(', ')}`);
});
