// Enough of PNG to check a screenshot is not blank: decodes 8-bit RGB or RGBA, non-interlaced images (what
// Chromium writes) into RGBA pixels. Node only (zlib).

import { inflateSync } from 'node:zlib';

export interface Image {
  width: number;
  height: number;
  /** (height, width, 4) RGBA. */
  rgba: Uint8Array;
}

export function decodePng(png: Uint8Array): Image {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const signature = [137, 80, 78, 71, 13, 10, 26, 10];
  if (!signature.every((b, i) => png[i] === b)) throw new Error('not a PNG');
  let width = 0, height = 0, colorType = 0;
  const idat: Uint8Array[] = [];
  for (let o = 8; o < png.length;) {
    const len = view.getUint32(o);
    const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
    const data = png.subarray(o + 8, o + 8 + len);
    if (type === 'IHDR') {
      width = view.getUint32(o + 8);
      height = view.getUint32(o + 12);
      const depth = png[o + 16];
      colorType = png[o + 17];
      if (depth !== 8 || (colorType !== 2 && colorType !== 6) || png[o + 20] !== 0) throw new Error(`unsupported PNG: depth ${depth}, colour type ${colorType}, interlace ${png[o + 20]}`);
    } else if (type === 'IDAT') idat.push(data);
    o += 12 + len;
  }
  const bpp = colorType === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const out = new Uint8Array(width * height * bpp);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const cur = out.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? out.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? cur[i - bpp] : 0;
      const b = up[i];
      const c = i >= bpp ? up[i - bpp] : 0;
      let p: number;
      switch (filter) {
        case 0: p = 0; break;
        case 1: p = a; break;
        case 2: p = b; break;
        case 3: p = (a + b) >> 1; break;
        case 4: {
          const q = a + b - c;
          const pa = Math.abs(q - a), pb = Math.abs(q - b), pc = Math.abs(q - c);
          p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: throw new Error(`bad PNG filter ${filter}`);
      }
      cur[i] = (line[i] + p) & 255;
    }
  }
  if (bpp === 4) return { width, height, rgba: out };
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba.set(out.subarray(i * 3, i * 3 + 3), i * 4);
    rgba[i * 4 + 3] = 255;
  }
  return { width, height, rgba };
}

/** How many distinct colours, and the fraction of pixels that are neither white nor the page's background. */
export function imageStats(img: Image): { colors: number; inked: number } {
  const seen = new Set<number>();
  let inked = 0;
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    const [r, g, b] = img.rgba.subarray(i * 4, i * 4 + 3);
    seen.add((r << 16) | (g << 8) | b);
    const white = r > 245 && g > 245 && b > 245;
    const background = Math.abs(r - 246) < 3 && Math.abs(g - 247) < 3 && Math.abs(b - 249) < 3;
    if (!white && !background) inked++;
  }
  return { colors: seen.size, inked: inked / n };
}
