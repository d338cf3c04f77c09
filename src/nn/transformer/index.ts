// The Transformer layers (PyTorch names and semantics): LayerNorm, MultiheadAttention and its key/value
// cache, the encoder and decoder layers and stacks, nn.Transformer, masks and positional encodings.

export { LayerNorm, type LayerNormOptions } from './layer-norm.js';
export { BoolMask, boolMask, squareSubsequentMask, type AttentionMask } from './masks.js';
export {
  MultiheadAttention, KeyValueCache, type MultiheadAttentionOptions, type MultiheadAttentionForwardOptions, type MultiheadAttentionOutput,
} from './multihead-attention.js';
export { transformerActivations, type TransformerActivation, type TransformerLayerOptions } from './layer-options.js';
export { TransformerEncoderLayer, type EncoderLayerForwardOptions } from './encoder-layer.js';
export { TransformerDecoderLayer, type DecoderLayerForwardOptions, type DecoderLayerOutput } from './decoder-layer.js';
export {
  TransformerEncoder, TransformerDecoder, Transformer, type TransformerStackOptions, type TransformerOptions, type TransformerForwardOptions,
  type EncoderForwardOptions, type DecoderForwardOptions, type DecoderOutput,
} from './transformer.js';
export {
  SinusoidalPositionalEncoding, LearnedPositionalEncoding, type PositionalEncodingOptions, type LearnedPositionalEncodingOptions,
} from './positional-encoding.js';
