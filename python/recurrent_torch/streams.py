"""char-rnn's batches as recurrent makes them (src/data/streams.ts): the first 90% of the ids train, the
last 10% validate; B contiguous streams of L = n // B ids; step k reads T ids at offset (k mod chunks)·T
of every stream, targets shifted by one, chunks = (L - 1) // T; the carried state resets when chunk 0
comes round."""
import torch


def split_train_val(ids, fraction=0.9):
    n = int(len(ids) * fraction)
    return ids[:n], ids[n:]


class Streams:
    def __init__(self, ids, B, T, what):
        self.B, self.T = B, T
        self.L = len(ids) // B
        self.chunks = (self.L - 1) // T
        if self.chunks < 1:
            raise ValueError(f'{what} is too short for one batch of {B} streams x {T + 1} characters')
        self.data = ids[: self.L * B].view(B, self.L)  # stream b = ids[b*L : (b+1)*L]

    def batch(self, step, rows=None):
        """(inputs (T, B'), targets (T, B'), reset) for streams `rows` (a slice; all by default)."""
        c = step % self.chunks
        d = self.data if rows is None else self.data[rows]
        x = d[:, c * self.T: c * self.T + self.T].t().contiguous()
        y = d[:, c * self.T + 1: c * self.T + self.T + 1].t().contiguous()
        return x, y, c == 0
