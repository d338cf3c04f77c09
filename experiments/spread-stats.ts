// Small-sample statistics for comparing the spread of two sets of runs (large-vocab-spread.ts): the
// standard deviation with its chi-square confidence interval, the F-test and the Brown–Forsythe test of
// equal variances, and seeded bootstrap / permutation versions that assume no normality. Distribution
// functions are the textbook continued fractions (Numerical Recipes §6.2, §6.4); not a general library.

import { Rng } from '../src/index.js';

export function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

/** Sample standard deviation (n − 1). */
export function sd(xs: readonly number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const k = s.length >> 1;
  return s.length % 2 === 1 ? s[k] : (s[k - 1] + s[k]) / 2;
}

function lnGamma(x: number): number {
  // Lanczos (g = 7, n = 9), good to ~1e-15 for x > 0.
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction for the incomplete beta function (modified Lentz). */
function betacf(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d; if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c; if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d; h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d; if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c; if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-14) break;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b). */
export function incBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const bt = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (bt * betacf(a, b, x)) / a : 1 - (bt * betacf(b, a, 1 - x)) / b;
}

/** Regularized lower incomplete gamma P(a, x). */
export function gammaP(a: number, x: number): number {
  if (x <= 0) return 0;
  const lnPre = -x + a * Math.log(x) - lnGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let del = sum;
    for (let n = 1; n < 1000; n++) {
      del *= x / (a + n);
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-15) break;
    }
    return sum * Math.exp(lnPre);
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b; if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c; if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return 1 - Math.exp(lnPre) * h;
}

export const fCdf = (x: number, d1: number, d2: number): number => (x <= 0 ? 0 : incBeta((d1 * x) / (d1 * x + d2), d1 / 2, d2 / 2));
export const chi2Cdf = (x: number, k: number): number => gammaP(k / 2, x / 2);

/** The p-quantile of a continuous, increasing CDF on (0, ∞), by bisection. */
function quantile(cdf: (x: number) => number, p: number): number {
  let lo = 0;
  let hi = 1;
  while (cdf(hi) < p) hi *= 2;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (cdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export const fQuantile = (p: number, d1: number, d2: number): number => quantile((x) => fCdf(x, d1, d2), p);
export const chi2Quantile = (p: number, k: number): number => quantile((x) => chi2Cdf(x, k), p);

/** Standard deviation with its 95% interval under normality: s·√((n−1)/χ²_{0.975}), s·√((n−1)/χ²_{0.025}). */
export function sdWithCi(xs: readonly number[]): { sd: number; lo: number; hi: number } {
  const s = sd(xs);
  const k = xs.length - 1;
  return { sd: s, lo: s * Math.sqrt(k / chi2Quantile(0.975, k)), hi: s * Math.sqrt(k / chi2Quantile(0.025, k)) };
}

/** F-test of equal variances: the ratio sd_a/sd_b, its 95% interval and the two-sided p-value (normal theory). */
export function fTest(a: readonly number[], b: readonly number[]): { ratio: number; lo: number; hi: number; p: number } {
  const F = sd(a) ** 2 / sd(b) ** 2;
  const d1 = a.length - 1;
  const d2 = b.length - 1;
  const c = fCdf(F, d1, d2);
  return {
    ratio: Math.sqrt(F),
    lo: Math.sqrt(F / fQuantile(0.975, d1, d2)),
    hi: Math.sqrt(F / fQuantile(0.025, d1, d2)),
    p: Math.min(1, 2 * Math.min(c, 1 - c)),
  };
}

/** Brown–Forsythe test (Levene's on deviations from the median): robust to non-normal tails. Two groups. */
export function brownForsythe(a: readonly number[], b: readonly number[]): { F: number; p: number } {
  const za = a.map((x) => Math.abs(x - median(a)));
  const zb = b.map((x) => Math.abs(x - median(b)));
  const all = [...za, ...zb];
  const g = mean(all);
  const ma = mean(za);
  const mb = mean(zb);
  const between = za.length * (ma - g) ** 2 + zb.length * (mb - g) ** 2; // df 1
  const within = za.reduce((s, z) => s + (z - ma) ** 2, 0) + zb.reduce((s, z) => s + (z - mb) ** 2, 0);
  const df2 = all.length - 2;
  const F = between / (within / df2);
  return { F, p: 1 - fCdf(F, 1, df2) };
}

/** Seeded percentile bootstrap of sd_a / sd_b (each group resampled on its own): the 95% interval. */
export function bootstrapSdRatio(a: readonly number[], b: readonly number[], rounds = 20000, seed = 7): { lo: number; hi: number } {
  const rng = new Rng(seed);
  const draw = (xs: readonly number[]): number[] => xs.map(() => xs[rng.int(xs.length)]);
  const r: number[] = [];
  for (let i = 0; i < rounds; i++) r.push(sd(draw(a)) / sd(draw(b)));
  r.sort((x, y) => x - y);
  return { lo: r[Math.floor(0.025 * rounds)], hi: r[Math.floor(0.975 * rounds)] };
}

/**
 * Permutation test of equal spread: each group centred on its median, the pooled deviations relabelled at
 * random; the p-value is the share of relabellings with |log(sd_a/sd_b)| at least the observed one.
 */
export function permutationSdRatio(a: readonly number[], b: readonly number[], rounds = 20000, seed = 11): number {
  const rng = new Rng(seed);
  const pooled = [...a.map((x) => x - median(a)), ...b.map((x) => x - median(b))];
  const stat = (xs: readonly number[]): number => Math.abs(Math.log(sd(xs.slice(0, a.length)) / sd(xs.slice(a.length))));
  const observed = stat(pooled);
  let hits = 0;
  const p = [...pooled];
  for (let i = 0; i < rounds; i++) {
    for (let k = p.length - 1; k > 0; k--) {
      const j = rng.int(k + 1);
      [p[k], p[j]] = [p[j], p[k]];
    }
    if (stat(p) >= observed - 1e-12) hits++;
  }
  return (hits + 1) / (rounds + 1);
}
