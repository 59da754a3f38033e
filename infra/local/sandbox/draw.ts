import { createHash } from 'node:crypto';
import { Jimp } from 'jimp';

/**
 * Draws a deterministic picture from a seed string (the prompt and parameters) and, when given,
 * an input image: the same request gives the same picture, a different one a different picture.
 * Simulators use it so every result they return is a real, decodable image.
 */
export interface DrawOptions {
  seed: string;
  width: number;
  height: number;
  /** Encoded input image (any format jimp reads); blended into the result. */
  input?: Buffer | undefined;
  /** Keep the corners transparent (PNG only), as a background-removal result would. */
  transparent?: boolean;
}

function seedBytes(seed: string): Buffer {
  return createHash('sha256').update(seed).digest();
}

export async function drawPicture(options: DrawOptions) {
  const bytes = seedBytes(options.seed);
  const at = (i: number): number => bytes[i % bytes.length] ?? 0;
  const { width, height } = options;
  const image = new Jimp({ width, height, color: 0xffffffff });
  const [r0, g0, b0, r1, g1, b1] = [at(0), at(1), at(2), at(3), at(4), at(5)];
  const cx = (at(6) / 255) * width;
  const cy = (at(7) / 255) * height;
  const radius = (0.15 + (at(8) / 255) * 0.3) * Math.min(width, height);
  const stripe = 8 + (at(9) % 48);
  const data = image.bitmap.data;
  for (let y = 0; y < height; y++) {
    const ty = y / Math.max(1, height - 1);
    for (let x = 0; x < width; x++) {
      const tx = x / Math.max(1, width - 1);
      const t = (tx + ty) / 2;
      let r = r0 + (r1 - r0) * t;
      let g = g0 + (g1 - g0) * t;
      let b = b0 + (b1 - b0) * t;
      const dx = x - cx;
      const dy = y - cy;
      if (dx * dx + dy * dy < radius * radius) {
        r = 255 - r;
        g = 255 - g;
        b = 255 - b;
      } else if (Math.floor((x + y) / stripe) % 2 === 0) {
        r *= 0.85;
        g *= 0.85;
        b *= 0.85;
      }
      const i = (y * width + x) * 4;
      data[i] = r;
      data[i + 1] = g;
      data[i + 2] = b;
      let alpha = 255;
      if (options.transparent) {
        const edge = Math.min(x, y, width - 1 - x, height - 1 - y);
        if (edge < Math.min(width, height) / 8) alpha = 0;
      }
      data[i + 3] = alpha;
    }
  }
  if (options.input) {
    const input = await Jimp.read(options.input);
    input.resize({ w: width, h: height });
    // jimp types `Jimp.read` and `new Jimp` images as different generic instances of one class.
    image.composite(input as unknown as typeof image, 0, 0, { opacitySource: 0.5 });
  }
  return image;
}

/** PNG or JPEG bytes of a drawn picture. */
export async function drawImage(
  options: DrawOptions & { format: 'png' | 'jpeg'; quality?: number },
): Promise<Buffer> {
  const image = await drawPicture(options);
  if (options.format === 'jpeg') return image.getBuffer('image/jpeg', { quality: options.quality ?? 85 });
  return image.getBuffer('image/png');
}

/** Width and height of an encoded image, or undefined when it cannot be decoded. */
export async function imageSize(bytes: Buffer): Promise<{ width: number; height: number } | undefined> {
  try {
    const image = await Jimp.read(bytes);
    return { width: image.bitmap.width, height: image.bitmap.height };
  } catch {
    return undefined;
  }
}

export type JimpImage = Awaited<ReturnType<typeof drawPicture>>;
