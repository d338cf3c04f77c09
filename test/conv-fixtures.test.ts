// PyTorch parity of the image layers: every test/fixtures/conv/*.safetensors (made by
// scripts/make-conv-fixtures.py from nn.Conv2d, nn.MaxPool2d and a twin of ImageEncoder; see
// test/fixtures/README.md) builds our layer from its metadata, loads PyTorch's state_dict as it is, runs the
// fixture's input, backpropagates sum(output ⊙ dOut), and compares the output and the gradient of the
// input and of every parameter. Runs on whatever backend RECURRENT_BACKEND selects.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { backward } from '../src/autograd/tape.js';
import { backend } from '../src/backend/registry.js';
import { decodeSafetensors, type NamedArray } from '../src/io/safetensors.js';
import { Conv2d, ImageEncoder, MaxPool2d, type Conv2dOptions, type ImageEncoderConfig, type MaxPool2dOptions } from '../src/nn/image/index.js';
import type { Module } from '../src/nn/module.js';
import { Rng } from '../src/random/rng.js';
import { Tensor, tidy } from '../src/tensor/tensor.js';
import { compareToFixture, f32, fixturesDir } from './util/fixtures.js';

/**
 * |got - expected| <= TOL · max|expected| over each whole tensor: float32 sums of up to C·kh·kw = 75 products
 * (and the encoder's chains of them) against PyTorch's float64.
 */
const TOL = 1e-5;
const FLOOR = 1e-6;

interface FixtureConfig {
  kind: 'conv' | 'pool' | 'encoder';
  options: Record<string, unknown>;
  shape: number[];
  ties: boolean;
}

const NAMESPACES = ['input.', 'upstream.', 'expected.', 'grad.'];
const dir = join(fixturesDir(), 'conv');
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort() : [];

function load(file: string): { tensors: Map<string, NamedArray>; cfg: FixtureConfig } {
  const { tensors, metadata } = decodeSafetensors(readFileSync(join(dir, file)), file);
  assert.ok(metadata.config, `${file}: no "config" in __metadata__`);
  return { tensors, cfg: JSON.parse(metadata.config) as FixtureConfig };
}

test('conv fixtures are present and cover strides, paddings, kernels, bias, batches, odd sizes, pools with ties and the encoder', () => {
  assert.ok(files.length > 0, `no fixtures in ${dir} (run: /usr/bin/python3 scripts/make-conv-fixtures.py)`);
  const cfgs = files.map((f) => load(f).cfg);
  const convs = cfgs.filter((c) => c.kind === 'conv').map((c) => c.options as unknown as Required<Conv2dOptions>);
  const has = (what: string, ok: boolean): void => assert.ok(ok, `no conv fixture with ${what}`);
  for (const s of [1, 2]) has(`stride ${s}`, convs.some((o) => JSON.stringify(o.stride).includes(String(s))));
  for (const p of [0, 1, 2]) has(`padding ${p}`, convs.some((o) => JSON.stringify(o.padding).includes(String(p))));
  for (const k of ['1', '3', '5', '[3,2]']) has(`kernel ${k}`, convs.some((o) => JSON.stringify(o.kernelSize) === k));
  for (const b of [true, false]) has(`bias ${b}`, convs.some((o) => o.bias === b));
  for (const B of [1, 3]) has(`batch ${B}`, cfgs.some((c) => c.kind === 'conv' && c.shape[0] === B));
  has('odd H and W', cfgs.some((c) => c.kind === 'conv' && c.shape[2] % 2 === 1 && c.shape[3] % 2 === 1));
  const pools = cfgs.filter((c) => c.kind === 'pool');
  for (const k of [2, 3]) assert.ok(pools.some((c) => c.options.kernelSize === k), `no pool fixture with kernel ${k}`);
  assert.ok(pools.some((c) => c.options.stride !== undefined) && pools.some((c) => c.options.padding !== 0), 'pools with stride and padding');
  assert.ok(pools.some((c) => c.ties), 'a pool fixture whose windows tie');
  assert.ok(cfgs.some((c) => c.kind === 'encoder'), 'an encoder fixture');
});

function build(cfg: FixtureConfig): Module & { forward(x: Tensor): Tensor } {
  const rng = new Rng(0);
  switch (cfg.kind) {
    case 'conv': return new Conv2d(cfg.options as unknown as Conv2dOptions, rng);
    case 'pool': return new MaxPool2d(cfg.options as unknown as MaxPool2dOptions);
    case 'encoder': return new ImageEncoder(cfg.options as unknown as ImageEncoderConfig, rng);
  }
}

for (const file of files) {
  test(`conv fixture ${file} (${backend().name})`, () => {
    const { tensors, cfg } = load(file);
    const layer = build(cfg);
    const state = new Map([...tensors].filter(([k]) => !NAMESPACES.some((p) => k.startsWith(p))));
    layer.loadStateDict(state);
    const xf = f32(file, tensors, 'input.x');
    const x = Tensor.from(xf.data, xf.shape, true);
    const failures: string[] = [];
    tidy(() => {
      const out = layer.forward(x);
      const e = compareToFixture('output', out, f32(file, tensors, 'expected.output'), TOL, FLOOR);
      if (e !== null) failures.push(e);
      const dOut = f32(file, tensors, 'upstream.output');
      backward(out, Tensor.from(dOut.data, dOut.shape));
    });
    const check = (label: string, t: Tensor): void => {
      const e = compareToFixture(label, t.grad, f32(file, tensors, `grad.${label}`), TOL, FLOOR);
      if (e !== null) failures.push(e);
    };
    check('input.x', x);
    for (const [name, p] of layer.namedParameters()) check(name, p);
    assert.equal(layer.namedParameters().length, state.size, `${file}: every parameter of the fixture is the layer's`);
    x.dispose();
    layer.dispose();
    assert.deepEqual(failures, [], `${file}:\n  ${failures.join('\n  ')}`);
  });
}
