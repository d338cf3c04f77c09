// The colour of a cell's value as Karpathy, Johnson & Fei-Fei (2015) colour text: −1 red, 0 white, +1 blue
// (values beyond ±1 are clipped), at most 80% saturated so the character stays legible on it. Shared by the
// studio page and `recurrent cells --html`.

export function activationColor(v: number): string {
  const x = Math.max(-1, Math.min(1, Number.isFinite(v) ? v : 0));
  const fade = Math.round(255 * (1 - 0.8 * Math.abs(x)));
  return x < 0 ? `rgb(255,${fade},${fade})` : `rgb(${fade},${fade},255)`;
}
