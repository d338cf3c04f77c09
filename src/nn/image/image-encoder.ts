// ImageEncoder: a small CNN (VGG-like stages of 3×3 convolutions, ReLU and 2×2 max pooling) that turns
// images (B, C, H, W) into the grid of annotation vectors an attention reads (Xu et al. 2015's a_i), as
// (B, L, D) rows. Trained from scratch (no pretrained weights here). Not here: the attention, the decoder.

import { imageGrid } from '../../autograd/image-ops.js';
import { relu } from '../../autograd/ops.js';
import type { Rng } from '../../random/rng.js';
import type { Tensor } from '../../tensor/tensor.js';
import { positiveInt } from '../linear.js';
import { Module } from '../module.js';
import { rejectUnknownKeys } from '../recurrent/recurrent.js';
import { Conv2d } from './conv2d.js';
import { MaxPool2d } from './max-pool2d.js';

/** Plain data (it goes into a checkpoint's config.json). */
export interface ImageEncoderConfig {
  /** Channels of the input images. Default 3 (RGB). */
  inChannels?: number;
  /** Output channels of each stage, e.g. [32, 64, 128]; the last is D. */
  channels: readonly number[];
  /** 3×3 convolutions (each followed by ReLU) per stage before its pool: 1 (default) or 2. */
  convsPerStage?: 1 | 2;
}

export type ResolvedImageEncoderConfig = Required<Omit<ImageEncoderConfig, 'channels'>> & { channels: number[] };

/** Where a grid cell looks, in input pixels: rows [y0, y1) and columns [x0, x1), clipped to the image. */
export interface PixelBox {
  y0: number;
  x0: number;
  y1: number;
  x1: number;
}

/**
 * Stage s (s = 1..S) is, convsPerStage times, x = relu(conv_s_k(x)) (3×3, padding 1, so H×W is kept), then
 * x = maxpool2×2(x) (H×W halved, floor); the result (B, D, H', W') is read as rows:
 *   forward(images (B, C, H, W)) -> (B, L, D),  L = H'·W',  row i = y·W' + x is grid cell (y, x), D = channels[S-1],
 * with H' = ⌊H / 2^S⌋ (gridSize). Parameters are PyTorch-style `conv1_1.weight`, `conv1_1.bias`, ... (stage, conv).
 *
 * Receptive field (receptiveField()): each 3×3 convolution widens a cell's view by 2·j pixels and each pool
 * by j, where j = 2^(stages pooled so far) is the spacing of the cells at that depth. A cell (y, x) sees the
 * input pixels [offset + stride·y, offset + stride·y + size) in each axis (clipped to the image), with
 * stride = 2^S. For channels [32, 64, 128]: one conv per stage gives size 22, stride 8, offset -7; two give
 * size 36, offset -14. Its tile (gridCell().tile) is the stride×stride block the pools reduce to the cell.
 */
export class ImageEncoder extends Module {
  readonly config: ResolvedImageEncoderConfig;
  /** The convolutions of each stage and the pool after each stage, read by the ONNX export (src/onnx/image-graph.ts). */
  readonly convs: ReadonlyArray<readonly Conv2d[]>;
  readonly pool = new MaxPool2d({ kernelSize: 2 });

  constructor(config: ImageEncoderConfig, rng: Rng) {
    super();
    if (config === null || typeof config !== 'object') throw new Error(`ImageEncoder: config must be an object, got ${String(config)}`);
    rejectUnknownKeys('ImageEncoder config', config, ['inChannels', 'channels', 'convsPerStage']);
    const { inChannels = 3, channels, convsPerStage = 1 } = config;
    positiveInt('ImageEncoder inChannels', inChannels);
    if (!Array.isArray(channels) || channels.length === 0) throw new Error(`ImageEncoder channels must be a non-empty array of channel counts, got ${JSON.stringify(channels)}`);
    channels.forEach((c, s) => positiveInt(`ImageEncoder channels[${s}]`, c));
    if (convsPerStage !== 1 && convsPerStage !== 2) throw new Error(`ImageEncoder convsPerStage must be 1 or 2, got ${JSON.stringify(convsPerStage)}`);
    this.config = { inChannels, channels: [...channels], convsPerStage };
    let c = inChannels;
    this.convs = channels.map((out, s) => {
      const stage: Conv2d[] = [];
      for (let k = 0; k < convsPerStage; k++) {
        stage.push(this.child(`conv${s + 1}_${k + 1}`, new Conv2d({ inChannels: c, outChannels: out, kernelSize: 3, padding: 1 }, rng)));
        c = out;
      }
      return stage;
    });
  }

  /** D: the features of each annotation vector (the last stage's channels). */
  get featureSize(): number {
    return this.config.channels[this.config.channels.length - 1];
  }

  /** The smallest height or width an image may have: 2^S, so that the grid has at least one cell. */
  get minImageSize(): number {
    return 2 ** this.config.channels.length;
  }

  /** (B, C, H, W) -> (B, L, D): the annotation grid, cell (y, x) at row y·W' + x. */
  forward(images: Tensor): Tensor {
    const { inChannels } = this.config;
    const s = images.shape;
    if (s.length !== 4 || s[1] !== inChannels) {
      throw new Error(`ImageEncoder: images must be (B, ${inChannels}, H, W), got [${s.join(', ')}]`);
    }
    if (s[2] < this.minImageSize || s[3] < this.minImageSize) {
      throw new Error(`ImageEncoder: images of ${s[2]}×${s[3]} are smaller than the ${this.minImageSize}×${this.minImageSize} its ${this.config.channels.length} pools need`);
    }
    let x = images; // (B, C, H, W)
    for (const stage of this.convs) {
      for (const conv of stage) x = relu(conv.forward(x)); // (B, C_s, H_s, W_s)
      x = this.pool.forward(x); // (B, C_s, ⌊H_s/2⌋, ⌊W_s/2⌋)
    }
    return imageGrid(x); // (B, H'·W', D)
  }

  /** [H', W'], the grid of an H×W image. */
  gridSize(H: number, W: number): [number, number] {
    let h = H;
    let w = W;
    for (let s = 0; s < this.config.channels.length; s++) [h, w] = this.pool.outputSize(h, w);
    return [h, w];
  }

  /** How a grid cell maps to input pixels in each axis (see the class comment). */
  receptiveField(): { size: number; stride: number; offset: number } {
    let size = 1;
    let jump = 1;
    let offset = 0;
    for (let s = 0; s < this.config.channels.length; s++) {
      for (let k = 0; k < this.config.convsPerStage; k++) {
        offset -= jump; // padding 1
        size += 2 * jump; // kernel 3
      }
      size += jump; // pool kernel 2
      jump *= 2; // pool stride 2
    }
    return { size, stride: jump, offset };
  }

  /**
   * Grid cell i (row i of forward's output) of an H×W image: its (row, col), its tile (the stride×stride
   * pixels pooled into it) and its receptive field, both clipped to the image.
   */
  gridCell(i: number, H: number, W: number): { row: number; col: number; tile: PixelBox; field: PixelBox } {
    const [gh, gw] = this.gridSize(H, W);
    if (!Number.isInteger(i) || i < 0 || i >= gh * gw) throw new Error(`ImageEncoder.gridCell: cell ${i} is outside the ${gh}×${gw} grid of a ${H}×${W} image`);
    const row = Math.floor(i / gw);
    const col = i % gw;
    const { size, stride, offset } = this.receptiveField();
    const clip = (y0: number, x0: number, y1: number, x1: number): PixelBox =>
      ({ y0: Math.max(y0, 0), x0: Math.max(x0, 0), y1: Math.min(y1, H), x1: Math.min(x1, W) });
    return {
      row, col,
      tile: clip(row * stride, col * stride, (row + 1) * stride, (col + 1) * stride),
      field: clip(offset + row * stride, offset + col * stride, offset + row * stride + size, offset + col * stride + size),
    };
  }
}
