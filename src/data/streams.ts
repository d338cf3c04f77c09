// Batches for truncated BPTT, as char-rnn makes them: the ids are cut into B contiguous streams of
// equal length; step k reads T characters from each stream at the same offset, with targets shifted by
// one. The recurrent state is carried from step to step and reset when the streams wrap (each epoch).

export interface Batch {
  inputs: Int32Array; // (T, B), time-major
  targets: Int32Array; // (T, B)
  /** True when this batch starts the streams over: the carried state must be reset. */
  resetState: boolean;
}

export class StreamBatcher {
  readonly streamLength: number;
  /** Batches per pass over the streams (one epoch). */
  readonly chunksPerEpoch: number;

  constructor(private readonly ids: Int32Array, readonly batchSize: number, readonly seqLength: number, what = 'data') {
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new Error(`batch size must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(seqLength) || seqLength <= 0) throw new Error(`sequence length must be a positive integer, got ${seqLength}`);
    this.streamLength = Math.floor(ids.length / batchSize);
    this.chunksPerEpoch = Math.floor((this.streamLength - 1) / seqLength);
    if (this.chunksPerEpoch < 1) {
      throw new Error(
        `${what} is too short: ${ids.length} characters cannot fill one batch of ${batchSize} streams × ${seqLength + 1} characters (need at least ${batchSize * (seqLength + 1)})`,
      );
    }
  }

  /** The batch of training step `step` (0-based): a pure function of the step, so resuming is exact. */
  batch(step: number): Batch {
    const { batchSize: B, seqLength: T, streamLength: L } = this;
    const chunk = step % this.chunksPerEpoch;
    const inputs = new Int32Array(T * B);
    const targets = new Int32Array(T * B);
    for (let b = 0; b < B; b++) {
      const start = b * L + chunk * T;
      for (let t = 0; t < T; t++) {
        inputs[t * B + b] = this.ids[start + t];
        targets[t * B + b] = this.ids[start + t + 1];
      }
    }
    return { inputs, targets, resetState: chunk === 0 };
  }
}

/** Splits ids into the first `fraction` (train) and the rest (validation), as the recipe does. */
export function splitTrainVal(ids: Int32Array, fraction = 0.9): { train: Int32Array; val: Int32Array } {
  const n = Math.floor(ids.length * fraction);
  return { train: ids.subarray(0, n), val: ids.subarray(n) };
}
