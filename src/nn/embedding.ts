// Embedding: rows of a (V, H) table looked up by integer ids; init N(0, 1) as nn.Embedding.

import { embedding } from '../autograd/ops.js';
import type { Rng } from '../random/rng.js';
import type { Shape, Tensor } from '../tensor/tensor.js';
import { normalInit } from './init.js';
import { positiveInt } from './linear.js';
import { Module } from './module.js';

export interface EmbeddingOptions {
  numEmbeddings: number;
  embeddingDim: number;
}

export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(opts: EmbeddingOptions, rng: Rng) {
    super();
    positiveInt('Embedding numEmbeddings', opts.numEmbeddings);
    positiveInt('Embedding embeddingDim', opts.embeddingDim);
    this.weight = this.param('weight', [opts.numEmbeddings, opts.embeddingDim], normalInit(rng)); // (V, H)
  }

  forward(ids: Int32Array, shape: Shape): Tensor {
    return embedding(this.weight, ids, shape); // (...shape, H)
  }
}
