// The image encoder (src/nn/image/) as ONNX nodes: each Conv2d an ONNX Conv (NCHW, its own kernel, stride
// and zero padding) followed by Relu, each stage's MaxPool2d an ONNX MaxPool (floor sizes; padding is never
// the maximum, as PyTorch's -∞), and the last feature map (B, D, H', W') read as the annotation grid
// (B, L, D), row y·W' + x, as imageGrid does. Not here: what reads the grid (the model exporters).

import type { Conv2d } from '../nn/image/conv2d.js';
import type { ImageEncoder } from '../nn/image/image-encoder.js';
import type { MaxPool2d } from '../nn/image/max-pool2d.js';
import type { Graph } from './graph.js';

/** ONNX's pads: [top, left, bottom, right] from PyTorch's symmetric [ph, pw]. */
const pads = (p: readonly [number, number]): number[] => [p[0], p[1], p[0], p[1]];

/** x (B, C, H, W) -> (B, O, OH, OW), PyTorch's Conv2d. */
export function conv2dNode(g: Graph, conv: Conv2d, name: string, x: string): string {
  const [O, C, kh, kw] = conv.weight.shape;
  const inputs = [x, g.weight(`${name}.weight`, conv.weight.data, [O, C, kh, kw])];
  if (conv.bias !== null) inputs.push(g.weight(`${name}.bias`, conv.bias.data, [O]));
  return g.op('Conv', inputs, { kernel_shape: { ints: conv.kernelSize }, strides: { ints: conv.stride }, pads: { ints: pads(conv.padding) } });
}

/** x (B, C, H, W) -> (B, C, OH, OW), PyTorch's MaxPool2d. */
export function maxPool2dNode(g: Graph, pool: MaxPool2d, x: string): string {
  return g.op('MaxPool', [x], { kernel_shape: { ints: pool.kernelSize }, strides: { ints: pool.stride }, pads: { ints: pads(pool.padding) } });
}

/** images (B, C, H, W) -> the annotation grid (B, L, D) of ImageEncoder.forward; `prefix` names the weights. */
export function imageEncoderGrid(g: Graph, enc: ImageEncoder, prefix: string, images: string): string {
  let x = images; // (B, C, H, W)
  enc.convs.forEach((stage, s) => {
    stage.forEach((conv, k) => (x = g.op('Relu', [conv2dNode(g, conv, `${prefix}.conv${s + 1}_${k + 1}`, x)]))); // (B, C_s, H_s, W_s)
    x = maxPool2dNode(g, enc.pool, x); // (B, C_s, ⌊H_s/2⌋, ⌊W_s/2⌋)
  });
  const cells = g.op('Reshape', [x, g.ints([0, 0, -1])]); // (B, D, L)
  return g.op('Transpose', [cells], { perm: { ints: [0, 2, 1] } }); // (B, L, D)
}
