"""recurrent's one seeded generator (src/random/rng.ts), bit for bit: xoshiro128** seeded through splitmix32,
its state four 32-bit integers (training.safetensors' `rng`). The twin draws what recurrent draws from it
(the classifier's batches, the validation splits, the length-bucketed epochs), so a continued run trains on
the batches `recurrent ... --resume` would have, and hands the state on where recurrent would be."""

M = 0xffffffff


def _rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M


class Rng:
    def __init__(self, seed=0):
        if isinstance(seed, (list, tuple)):
            self.s = [int(v) & M for v in seed]
            return
        x, self.s = seed & M, []
        for _ in range(4):  # splitmix32
            x = (x + 0x9e3779b9) & M
            z = x
            z = ((z ^ (z >> 16)) * 0x85ebca6b) & M
            z = ((z ^ (z >> 13)) * 0xc2b2ae35) & M
            self.s.append((z ^ (z >> 16)) & M)

    def next_uint32(self):
        s = self.s
        result = (_rotl((s[1] * 5) & M, 7) * 9) & M
        t = (s[1] << 9) & M
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 11)
        return result

    def uniform(self):
        """[0, 1) with 24 random bits."""
        return (self.next_uint32() >> 8) / 16777216

    def int(self, n):
        """[0, n): floor(uniform · n), as recurrent computes it (in float64)."""
        return int(self.uniform() * n)

    def fork(self, salt):
        s = self.s
        a = s[0] ^ ((salt & M) * 0x9e3779b1 & M)
        return Rng((a ^ s[1] ^ ((s[2] << 1) & M) ^ (s[3] >> 1)) & M)

    def state(self):
        return list(self.s)


def shuffle(xs, rng):
    """Fisher–Yates from the end, in place, as recurrent's shuffle."""
    for i in range(len(xs) - 1, 0, -1):
        j = rng.int(i + 1)
        xs[i], xs[j] = xs[j], xs[i]
    return xs
