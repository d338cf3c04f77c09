// `recurrent export --checkpoint DIR --format onnx --out FILE`: a checkpoint's model as ONNX graphs
// (src/onnx/). One graph is written to FILE; several to FILE's stem with the graph's role (lm.onnx ->
// lm-step.onnx and lm-sequence.onnx; an encoder–decoder's or a captioner's -encoder.onnx and -decoder.onnx).

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ONNX_EXPORTS, checkpointToOnnx, onnxFileNames } from '../src/onnx/export.js';
import { UsageError, oneOf, parse, str } from './args.js';

export const EXPORT_HELP = `recurrent export: a checkpoint's model in another format

Usage:
  recurrent export --checkpoint DIR --format onnx --out FILE

  --checkpoint DIR     a checkpoint of recurrent train, classify train, seq2seq train, caption train or
                       vqa train
  --format onnx        ONNX (opset 17, IR version 8): the graphs ONNX Runtime runs in Node, browsers
                       (onnxruntime-web), servers and phones
  --out FILE           where the graph goes; a model of several graphs writes FILE's stem, a dash and each
                       graph's role, e.g. lm.onnx -> lm-step.onnx, lm-sequence.onnx

What each checkpoint becomes (inputs and outputs in the README, "Exporting to ONNX"):
${Object.entries(ONNX_EXPORTS).map(([f, what]) => `  ${f.padEnd(34)} ${what}`).join('\n')}`;

/** A file of the checkpoint, or a one-line error naming it. */
function readCheckpointFile(dir: string, file: string): Uint8Array {
  const path = join(dir, file);
  if (!existsSync(path)) throw new Error(file === 'config.json' ? `${dir} is not a checkpoint (no config.json)` : `cannot read ${path}: it does not exist`);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
}

export function exportCommand(argv: string[]): number {
  const v = parse(argv, { checkpoint: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' } });
  const dir = str(v, 'checkpoint');
  const out = str(v, 'out');
  if (dir === undefined) throw new UsageError('export needs --checkpoint DIR');
  if (v.format === undefined) throw new UsageError('export needs --format onnx');
  oneOf(v, 'format', 'onnx', ['onnx'] as const);
  if (out === undefined) throw new UsageError('export needs --out FILE');
  if (!existsSync(dir)) throw new Error(`checkpoint directory ${dir} does not exist`);
  const graphs = checkpointToOnnx({ config: readCheckpointFile(dir, 'config.json'), model: readCheckpointFile(dir, 'model.safetensors') }, dir);
  const files = onnxFileNames(out, graphs);
  mkdirSync(dirname(out), { recursive: true });
  graphs.forEach((g, i) => {
    writeFileSync(files[i], g.bytes);
    process.stdout.write(`${files[i]}  ${g.name} graph, ${(g.bytes.length / 1024).toFixed(1)} KiB\n`);
  });
  return 0;
}
