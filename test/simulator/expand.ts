import sharp from 'sharp';
import type { ImageSize } from './types';

/** Multiples of the original height (up, down) and width (left, right). */
export interface ExpansionRatios {
	up: number;
	down: number;
	left: number;
	right: number;
}

/** Where the original lands on the expanded canvas, in pixels. */
export interface CanvasLayout extends ImageSize {
	top: number;
	bottom: number;
	left: number;
	right: number;
}

/**
 * Canvas `round((1+l+r)·W) × round((1+u+d)·H)` with the original at `(round(l·W), round(u·H))`.
 * The far margins take the rounding remainder, so they are never negative.
 */
export function canvasLayout(source: ImageSize, ratios: ExpansionRatios): CanvasLayout {
	const width = Math.round((1 + ratios.left + ratios.right) * source.width);
	const height = Math.round((1 + ratios.up + ratios.down) * source.height);
	const left = Math.round(ratios.left * source.width);
	const top = Math.round(ratios.up * source.height);
	return {
		width,
		height,
		left,
		top,
		right: width - source.width - left,
		bottom: height - source.height - top,
	};
}

/**
 * Outpaints by stretching the edge pixels outward: the original stays pixel-exact, and 'copy'
 * renders and compresses about twice as well as 'mirror' for the large inputs benchmarks send.
 */
export async function renderExpansion(
	image: Buffer,
	source: ImageSize,
	ratios: ExpansionRatios,
): Promise<Buffer> {
	const { top, bottom, left, right } = canvasLayout(source, ratios);
	return sharp(image)
		.extend({ top, bottom, left, right, extendWith: 'copy' })
		.png({ compressionLevel: 1 })
		.toBuffer();
}

/** Two renders at a time: benchmarks send many large images at once and each decode is big. */
const MAX_PARALLEL_RENDERS = 2;
let runningRenders = 0;
const waitingRenders: (() => void)[] = [];

/** Queues a render; the input buffer is released as soon as its render finishes. */
export async function queueExpansion(
	image: Buffer,
	source: ImageSize,
	ratios: ExpansionRatios,
): Promise<Buffer> {
	if (runningRenders >= MAX_PARALLEL_RENDERS)
		await new Promise<void>((resolve) => waitingRenders.push(resolve));
	runningRenders++;
	try {
		return await renderExpansion(image, source, ratios);
	} finally {
		runningRenders--;
		waitingRenders.shift()?.();
	}
}
