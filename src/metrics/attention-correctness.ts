// Attention correctness (Liu et al. 2017): for each generated word that names an object, the share of the
// word's attention that falls inside the object's mask. Grid cells map to pixels through the encoder's
// geometry (each cell spreads its α evenly over its tile, the pixels its pools reduce to it), so a map's mass
// inside a mask is Σ_i α_i · |tile_i ∩ mask| / |tile_i|. Which word names which object is read from the
// scenes' grammar: the words of a generated phrase "SIZE COLOUR SHAPE" name the one object of the scene with
// that size, colour and shape (none when the scene has none or several). Not here: the captions' scores.

import { COLOURS, SHAPES, SIZES, type Scene } from '../data/scenes.js';

/** Pixels [y0, y1) × [x0, x1). */
export interface PixelTile {
  y0: number;
  x0: number;
  y1: number;
  x1: number;
}

/** Per word of `words`, the scene's object it names (its index), or -1 (see the file comment). */
export function namedObjects(words: readonly string[], scene: Scene): number[] {
  const out = new Array<number>(words.length).fill(-1);
  const is = <T extends string>(set: readonly T[], w: string | undefined): w is T => w !== undefined && (set as readonly string[]).includes(w);
  for (let t = 0; t + 2 < words.length; t++) {
    const [size, colour, shape] = [words[t], words[t + 1], words[t + 2]];
    if (!is(SIZES, size) || !is(COLOURS, colour) || !is(SHAPES, shape)) continue;
    const hits = scene.objects.flatMap((o, k) => (o.size === size && o.colour === colour && o.shape === shape ? [k] : []));
    if (hits.length === 1) out.fill(hits[0], t, t + 3);
  }
  return out;
}

/** The attention mass (α over L cells with these tiles) inside `mask` (H·W, 1 inside) of a W-pixel-wide image. */
export function maskMass(alpha: ArrayLike<number>, tiles: readonly PixelTile[], mask: Uint8Array, W: number): number {
  if (alpha.length !== tiles.length) throw new Error(`maskMass: ${alpha.length} attention weights for ${tiles.length} grid cells`);
  let mass = 0;
  tiles.forEach((tile, i) => {
    let inside = 0;
    for (let y = tile.y0; y < tile.y1; y++) for (let x = tile.x0; x < tile.x1; x++) inside += mask[y * W + x];
    const area = (tile.y1 - tile.y0) * (tile.x1 - tile.x0);
    if (area > 0) mass += (alpha[i] * inside) / area;
  });
  return mass;
}
