import sharp from 'sharp';
import { createSeededRandom } from './random';

export interface TestImageOptions {
	width: number;
	height: number;
	format: 'png' | 'jpeg';
	/** Same seed, same bytes. Default 1. */
	seed?: number;
	/** Amplitude of the per-pixel noise, 0–255. Default 48; raise it for larger (less compressible) files. */
	noise?: number;
}

/**
 * An RGB picture with a gradient plus seeded noise: no two pixels alike by accident, so pixel
 * comparisons after expansion mean something, and file sizes can be pushed up for benchmarks.
 */
export async function makeTestImage({
	width,
	height,
	format,
	seed = 1,
	noise = 48,
}: TestImageOptions): Promise<Buffer> {
	const random = createSeededRandom(seed);
	const pixels = Buffer.alloc(width * height * 3);
	for (let y = 0, offset = 0; y < height; y++) {
		for (let x = 0; x < width; x++, offset += 3) {
			const jitter = () => (random() - 0.5) * noise;
			pixels[offset] = clampByte((x / width) * 255 + jitter());
			pixels[offset + 1] = clampByte((y / height) * 255 + jitter());
			pixels[offset + 2] = clampByte(((x + y) / (width + height)) * 255 + jitter());
		}
	}
	const image = sharp(pixels, { raw: { width, height, channels: 3 } });
	return format === 'png' ? image.png().toBuffer() : image.jpeg({ quality: 90 }).toBuffer();
}

function clampByte(value: number): number {
	return Math.max(0, Math.min(255, Math.round(value)));
}
