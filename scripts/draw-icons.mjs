// Draws Ferry's icons deterministically (plain Node + zlib): `node scripts/draw-icons.mjs`.
//   assets/icon.png                              512x512 app icon
//   assets/tray/{state}-{light,dark}[@2x].png    16x16 / 32x32 tray icons (light: for light
//                                                taskbars, dark glyph; dark: light glyph)
//   assets/tray/{state}Template[@2x].png         macOS template images (black + alpha)
// The glyph is a small ferry boat on a wave; the state is a badge at the bottom right.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// ── PNG encoder (RGBA, 8 bit, no interlace) ──

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
export function encodePng(width, height, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 4 + 1)] = 0; // filter: none
    rgba.copy(raw, y * (width * 4 + 1) + 1, y * width * 4, (y + 1) * width * 4);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// ── shapes in unit coordinates (0..1, y down): functions (x, y) → inside? ──

const circle = (cx, cy, r) => (x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
const rect = (x0, y0, x1, y1) => (x, y) => x >= x0 && x <= x1 && y >= y0 && y <= y1;
function roundRect(x0, y0, x1, y1, r) {
  return (x, y) => {
    if (x < x0 || x > x1 || y < y0 || y > y1) return false;
    const dx = Math.max(x0 + r - x, 0, x - (x1 - r));
    const dy = Math.max(y0 + r - y, 0, y - (y1 - r));
    return dx * dx + dy * dy <= r * r;
  };
}
function polygon(points) {
  return (x, y) => {
    let inside = false;
    for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
      const [xi, yi] = points[i];
      const [xj, yj] = points[j];
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  };
}
/** A thick line segment with round caps. */
function segment(ax, ay, bx, by, halfWidth) {
  return (x, y) => {
    const vx = bx - ax;
    const vy = by - ay;
    const t = Math.max(0, Math.min(1, ((x - ax) * vx + (y - ay) * vy) / (vx * vx + vy * vy)));
    return (x - ax - t * vx) ** 2 + (y - ay - t * vy) ** 2 <= halfWidth * halfWidth;
  };
}
/** A ring between angles (radians, clockwise from +x because y points down). */
function arc(cx, cy, r, halfWidth, from, to) {
  return (x, y) => {
    const d = Math.hypot(x - cx, y - cy);
    if (Math.abs(d - r) > halfWidth) return false;
    let a = Math.atan2(y - cy, x - cx);
    while (a < from) a += 2 * Math.PI;
    return a <= to;
  };
}
/** y = base + amp·sin(x·2π·waves), stroked. */
function wave(base, amp, waves, halfWidth, x0, x1) {
  return (x, y) => x >= x0 && x <= x1 && Math.abs(y - (base + amp * Math.sin((x - x0) * 2 * Math.PI * waves))) <= halfWidth;
}
const union = (...shapes) => (x, y) => shapes.some((s) => s(x, y));
const transform = (shape, scale, ox, oy) => (x, y) => shape((x - ox) / scale, (y - oy) / scale);

// ── the glyph ──

/** The boat: hull, cabin, funnel, and a wave under it. */
const boat = union(
  polygon([[0.06, 0.5], [0.94, 0.5], [0.8, 0.7], [0.2, 0.7]]),
  rect(0.26, 0.32, 0.7, 0.5),
  rect(0.36, 0.14, 0.5, 0.34),
  wave(0.84, 0.035, 2, 0.055, 0.04, 0.96),
);
/** Cabin windows, cut out of the glyph at sizes where they read. */
const windows = union(rect(0.33, 0.37, 0.42, 0.44), rect(0.54, 0.37, 0.63, 0.44));

const BADGE = { cx: 0.755, cy: 0.755, r: 0.235, gap: 0.07 };

/** Badge symbols, drawn in the badge's own unit box. */
const SYMBOLS = {
  syncing: union(
    arc(0.5, 0.5, 0.27, 0.085, Math.PI * 0.15, Math.PI * 0.95),
    arc(0.5, 0.5, 0.27, 0.085, Math.PI * 1.15, Math.PI * 1.95),
    polygon([[0.03, 0.46], [0.37, 0.46], [0.2, 0.72]]),
    polygon([[0.97, 0.54], [0.63, 0.54], [0.8, 0.28]]),
  ),
  paused: union(rect(0.24, 0.24, 0.42, 0.76), rect(0.58, 0.24, 0.76, 0.76)),
  error: union(roundRect(0.41, 0.18, 0.59, 0.6, 0.06), circle(0.5, 0.77, 0.1)),
  offline: segment(0.28, 0.28, 0.72, 0.72, 0.09),
};

const COLORS = {
  light: { glyph: [31, 41, 55], muted: [107, 114, 128] },
  dark: { glyph: [243, 244, 246], muted: [156, 163, 175] },
  badge: { syncing: [37, 99, 235], paused: [217, 119, 6], error: [220, 38, 38], offline: [107, 114, 128] },
};

/**
 * Layers for one tray icon: [shape, rgb | 'clear']. Templates use black only, and the badge
 * symbol is cut out of the badge (the menu bar tints the rest).
 */
function trayLayers(state, theme, detailed) {
  const template = theme === 'template';
  const glyphColor = template ? [0, 0, 0] : state === 'offline' ? COLORS[theme].muted : COLORS[theme].glyph;
  const layers = [[boat, glyphColor]];
  if (detailed) layers.push([windows, 'clear']);
  if (state === 'idle') return layers;
  const { cx, cy, r, gap } = BADGE;
  const badgeBox = (shape) => transform(shape, 2 * r, cx - r, cy - r);
  layers.push([circle(cx, cy, r + gap), 'clear']);
  layers.push([circle(cx, cy, r), template ? [0, 0, 0] : COLORS.badge[state]]);
  layers.push([badgeBox(SYMBOLS[state]), template ? 'clear' : [255, 255, 255]]);
  return layers;
}

/** The app icon: the boat in white on a blue rounded square, with a light wave. */
function appIconLayers() {
  const inner = (shape) => transform(shape, 0.68, 0.16, 0.17);
  return [
    [roundRect(0.04, 0.04, 0.96, 0.96, 0.2), { top: [59, 130, 246], bottom: [29, 78, 216] }],
    [inner(boat), [255, 255, 255]],
    [inner(windows), { top: [59, 130, 246], bottom: [29, 78, 216] }],
  ];
}

// ── rasterizer: supersampled coverage, painted layer by layer ──

function render(size, layers, samples) {
  const rgba = Buffer.alloc(size * size * 4);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      // Accumulate premultiplied colour over sub-samples.
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < samples; sy++) {
        for (let sx = 0; sx < samples; sx++) {
          const x = (px + (sx + 0.5) / samples) / size;
          const y = (py + (sy + 0.5) / samples) / size;
          let color = null;
          for (const [shape, paint] of layers) {
            if (!shape(x, y)) continue;
            if (paint === 'clear') color = null;
            else if (Array.isArray(paint)) color = paint;
            else color = paint.top.map((c, i) => Math.round(c + (paint.bottom[i] - c) * y));
          }
          if (color) {
            r += color[0];
            g += color[1];
            b += color[2];
            a += 1;
          }
        }
      }
      const o = (py * size + px) * 4;
      if (a > 0) {
        rgba[o] = Math.round(r / a);
        rgba[o + 1] = Math.round(g / a);
        rgba[o + 2] = Math.round(b / a);
        rgba[o + 3] = Math.round((255 * a) / (samples * samples));
      }
    }
  }
  return rgba;
}

function write(file, size, layers, samples) {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, encodePng(size, size, render(size, layers, samples)));
  return path.relative(root, file);
}

export const TRAY_STATES = ['idle', 'syncing', 'paused', 'offline', 'error'];

function main() {
  const written = [];
  written.push(write(path.join(root, 'assets', 'icon.png'), 512, appIconLayers(), 4));
  const trayDir = path.join(root, 'assets', 'tray');
  for (const state of TRAY_STATES) {
    for (const [size, suffix] of [[16, ''], [32, '@2x']]) {
      const detailed = size >= 32;
      for (const theme of ['light', 'dark']) {
        written.push(write(path.join(trayDir, `${state}-${theme}${suffix}.png`), size, trayLayers(state, theme, detailed), 8));
      }
      written.push(write(path.join(trayDir, `${state}Template${suffix}.png`), size, trayLayers(state, 'template', detailed), 8));
    }
  }
  console.log(`ferry: drew ${written.length} icons`);
}

main();
