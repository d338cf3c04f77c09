// The ONNX check of the browser test (page main thread): recurrent/onnx exports a language model in the
// browser, and onnxruntime-web (its wasm build) runs the step graph fed token by token and the sequence
// graph; both match the model's own forward pass within 1e-5 of the largest logit.

import * as ort from 'onnxruntime-web';
import { LanguageModel, Rng, noGrad, tidy } from '../../src/index.js';
import { toOnnx } from '../../src/onnx.js';
import type { Check } from './checks.js';

export async function runOnnxChecks(): Promise<Check[]> {
  try {
    ort.env.wasm.numThreads = 1;
    const rng = new Rng(5);
    const V = 13, H = 8, L = 2, T = 6;
    const model = new LanguageModel({ cell: 'gru', vocabSize: V, hiddenSize: H, numLayers: L, dropout: 0 }, rng).eval();
    const ids = Int32Array.from({ length: T }, () => rng.int(V)); // (T, 1)
    const want = noGrad(() => tidy(() => model.forward(ids, T, 1, null).logits.data.slice())); // (T, V)
    const [step, sequence] = toOnnx(model);
    const zeros = (): ort.Tensor => new ort.Tensor('float32', new Float32Array(L * H), [L, 1, H]);
    const stepper = await ort.InferenceSession.create(step.bytes);
    let h = zeros();
    let worst = 0;
    const scale = Math.max(...Array.from(want, Math.abs));
    for (let t = 0; t < T; t++) {
      const out = await stepper.run({ token: new ort.Tensor('int64', BigInt64Array.of(BigInt(ids[t])), [1]), h });
      const got = out.logits.data as Float32Array;
      for (let j = 0; j < V; j++) worst = Math.max(worst, Math.abs(got[j] - want[t * V + j]) / scale);
      h = out.h_out;
    }
    const seq = await ort.InferenceSession.create(sequence.bytes);
    const all = (await seq.run({ tokens: new ort.Tensor('int64', BigInt64Array.from(ids, (i) => BigInt(i)), [1, T]), h: zeros() })).logits.data as Float32Array;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(all[i] - want[i]) / scale);
    model.dispose();
    const ok = worst <= 1e-5;
    return [{ name: 'recurrent/onnx exports a language model and onnxruntime-web runs its step and sequence graphs', ok,
      detail: `onnxruntime-web ${ort.env.versions.web}: logits within ${worst.toExponential(2)} of the largest (bound 1e-5); step graph ${step.bytes.length} bytes` }];
  } catch (e) {
    return [{ name: 'recurrent/onnx in the browser with onnxruntime-web', ok: false, detail: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) }];
  }
}
