import { MAX_AREA_MULTIPLIER, MAX_RATIO } from '../../shared/kling';
import { ValidationError } from '../../shared/validationError';

/**
 * The four expansion ratios Kling takes: up/down in units of the original height, left/right of its
 * width.
 */
export interface ExpansionRatios {
	up: number;
	down: number;
	left: number;
	right: number;
}

/** Parses `16:9`, `16/9`, `1.7778` into width / height. */
export function parseAspectRatio(text: string): number {
	const trimmed = String(text).trim();
	const pair = /^(\d+(?:\.\d+)?)\s*[:/x]\s*(\d+(?:\.\d+)?)$/i.exec(trimmed);
	const value = pair
		? Number(pair[1]) / Number(pair[2])
		: /^\d+(?:\.\d+)?$/.test(trimmed)
			? Number(trimmed)
			: NaN;
	if (!Number.isFinite(value) || value <= 0) {
		throw ValidationError.worded(
			'targetAspectRatio',
			text,
			`Target aspect ratio is "${text}"; it must be width:height such as 16:9, or a positive ` +
				'decimal such as 1.7778',
		);
	}
	return value;
}

/**
 * Four decimals like the provider's example, or more for images so large that 0.0001 of a side is
 * over a quarter pixel (so the canvas stays within a pixel of the target shape). Rounded down, so
 * the canvas never tips over the 3× area limit; the tiny tolerance keeps an exact 0 from becoming
 * -0.0001.
 */
function floorRatio(value: number, longestSide: number): number {
	const scale = 10 ** Math.max(4, Math.ceil(Math.log10(4 * longestSide)));
	return Math.floor(value * scale + 1e-6) / scale;
}
const round4 = (value: number) => Math.round(value * 10000) / 10000;

/**
 * Where the original sits on the new canvas: `x` 0 at the left edge to 1 at the right, `y` 0 at the
 * top to 1 at the bottom. The free space on each axis is split in that proportion.
 */
export interface Placement {
	x: number;
	y: number;
}

export const PLACEMENTS = {
	center: { x: 0.5, y: 0.5 },
	top: { x: 0.5, y: 0 },
	bottom: { x: 0.5, y: 1 },
	left: { x: 0, y: 0.5 },
	right: { x: 1, y: 0.5 },
	topLeft: { x: 0, y: 0 },
	topRight: { x: 1, y: 0 },
	bottomLeft: { x: 0, y: 1 },
	bottomRight: { x: 1, y: 1 },
} satisfies Record<string, Placement>;

export type PlacementName = keyof typeof PLACEMENTS;

/** A custom position: each coordinate 0–1 (the node's Horizontal / Vertical Position fields). */
export function customPlacement(x: number, y: number): Placement {
	for (const [field, value] of [
		['horizontalPosition', x],
		['verticalPosition', y],
	] as const) {
		if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
			throw new ValidationError(
				field,
				value,
				'it must be a number from 0 (left / top edge) to 1 (right / bottom edge); 0.5 centres it',
			);
		}
	}
	return { x, y };
}

/** Growth on each axis as multiples of the original's side: (canvas side − side) / side. */
function splitBy(placement: Placement, horizontal: number, vertical: number, longestSide: number) {
	return {
		up: floorRatio(vertical * placement.y, longestSide),
		down: floorRatio(vertical * (1 - placement.y), longestSide),
		left: floorRatio(horizontal * placement.x, longestSide),
		right: floorRatio(horizontal * (1 - placement.x), longestSide),
	};
}

/** Rounded up for a message naming a lower bound, so the advice works. */
const up2 = (value: number) => Math.ceil(value * 100 - 1e-9) / 100;

/**
 * Kling's documented helper: the ratios that grow a W×H image to `areaMultiplier`× its area at
 * `aspect` (width / height), with the free space split by `placement` (centred by default, as in
 * Kling's sample). Rounded down to 4 decimals like the provider's example (100×100, ×3, 16:9 →
 * 0.1495, 0.1495, 0.6547, 0.6547), more for very large images (see floorRatio). Refuses rather than
 * return a negative ratio or one above 2, naming the multiplier that works.
 * @see https://app.klingai.com/global/dev/document-api/apiReference/model/imageExpansion
 */
export function ratiosFromAspect(
	width: number,
	height: number,
	areaMultiplier: number,
	aspect: number,
	placement: Placement = PLACEMENTS.center,
): ExpansionRatios {
	if (!(areaMultiplier >= 1 && areaMultiplier <= MAX_AREA_MULTIPLIER)) {
		throw new ValidationError(
			'areaMultiplier',
			areaMultiplier,
			`it must be between 1 and ${MAX_AREA_MULTIPLIER}`,
			false,
			'Area multiplier',
		);
	}
	const targetHeight = Math.sqrt((areaMultiplier * width * height) / aspect);
	const targetWidth = targetHeight * aspect;
	const ratios = splitBy(
		placement,
		(targetWidth - width) / width,
		(targetHeight - height) / height,
		Math.max(width, height),
	);
	const needed = minimumAreaMultiplier(width, height, aspect);
	if (Math.min(ratios.up, ratios.down, ratios.left, ratios.right) < 0) {
		throw ValidationError.worded(
			'areaMultiplier',
			areaMultiplier,
			`A ${width}×${height} image does not fit inside a canvas of aspect ${round4(aspect)} at ` +
				`${areaMultiplier}× its area; ` +
				(needed <= MAX_AREA_MULTIPLIER
					? `use an area multiplier of at least ${up2(needed)} (or Canvas Area: Smallest ` +
						'That Fits)'
					: `that shape needs ${up2(needed)}× the area, more than Kling's ` +
						`limit of ${MAX_AREA_MULTIPLIER}×; choose an aspect ratio closer to the image's own`),
		);
	}
	// Within 3× the area no axis grows past 3× its side, so even the far side of an edge placement
	// stays within Kling's 2× (tested); kept as a guard on the rounding.
	for (const [side, value] of Object.entries(ratios)) {
		if (value > MAX_RATIO) {
			throw ValidationError.worded(
				'targetAspectRatio',
				value,
				`The ${side} expansion ratio would be ${value}; each ratio must be at most ${MAX_RATIO}. ` +
					`Choose an aspect ratio closer to the image's own or a smaller area multiplier`,
			);
		}
	}
	return ratios;
}

/**
 * The smallest canvas of `aspect` that holds the original: only one axis grows (4:3 → 16:9 adds
 * only the sides, ×4/3). Refuses a shape that needs more than Kling allows, naming the limit.
 */
export function smallestCanvasRatios(
	width: number,
	height: number,
	aspect: number,
	placement: Placement = PLACEMENTS.center,
): ExpansionRatios {
	const needed = minimumAreaMultiplier(width, height, aspect);
	if (needed > MAX_AREA_MULTIPLIER + 1e-9) {
		throw ValidationError.worded(
			'targetAspectRatio',
			round4(aspect),
			`The smallest canvas of aspect ${round4(aspect)} around a ${width}×${height} image is ` +
				`${up2(needed)}× its area; Kling allows at most ${MAX_AREA_MULTIPLIER}×: choose an ` +
				`aspect ratio closer to the image's own`,
		);
	}
	// Grow exactly one axis: the other keeps its size (not a square-root round trip that could
	// leave a hair of negative growth).
	const own = width / height;
	return aspect >= own
		? splitBy(placement, (height * aspect - width) / width, 0, Math.max(width, height))
		: splitBy(placement, 0, (width / aspect - height) / height, Math.max(width, height));
}

/** A canvas or image size in pixels. */
export interface PixelSize {
	width: number;
	height: number;
}

/** Parses `1200x628` (also `1200×628`, `1200 X 628`, `1200*628`) into whole pixels. */
export function parseCanvasSize(text: string): PixelSize {
	const match = /^\s*(\d+)\s*[x×*]\s*(\d+)\s*$/i.exec(String(text));
	const size = match && { width: Number(match[1]), height: Number(match[2]) };
	if (!size || size.width < 1 || size.height < 1) {
		throw new ValidationError(
			'canvasSize',
			text,
			'it must be width x height in whole pixels, such as 1200x628 or 1080x1920',
		);
	}
	return size;
}

/**
 * A ratio that lands on a whole number of pixels: Kling's canvas is round((1 + l + r) · side), so
 * each ratio is the nearest step of floorRatio's precision, within ⅛ px of `pixels` (two sides stay
 * within ¼ px, which rounds to the exact canvas).
 */
function ratioForPixels(pixels: number, side: number, longestSide: number): number {
	const scale = 10 ** Math.max(4, Math.ceil(Math.log10(4 * longestSide)));
	return Math.round((pixels / side) * scale) / scale;
}

/**
 * A canvas of exact pixel size, with the original placed on it: exact when the canvas holds the
 * original within Kling's limits (2× per side, 3× the area). Otherwise the canvas of the same
 * shape that comes closest in size within those limits (the smallest that holds the original, or
 * the largest Kling allows), for a resize afterwards; `exact` says which.
 */
export function ratiosForCanvas(
	width: number,
	height: number,
	target: PixelSize,
	placement: Placement = PLACEMENTS.center,
): { ratios: ExpansionRatios; exact: boolean } {
	const longestSide = Math.max(width, height);
	const growX = target.width - width;
	const growY = target.height - height;
	const ratios = {
		up: ratioForPixels(growY * placement.y, height, longestSide),
		down: ratioForPixels(growY * (1 - placement.y), height, longestSide),
		left: ratioForPixels(growX * placement.x, width, longestSide),
		right: ratioForPixels(growX * (1 - placement.x), width, longestSide),
	};
	const fits =
		growX >= 0 &&
		growY >= 0 &&
		Math.max(ratios.up, ratios.down, ratios.left, ratios.right) <= MAX_RATIO &&
		(1 + ratios.left + ratios.right) * (1 + ratios.up + ratios.down) <= MAX_AREA_MULTIPLIER;
	if (fits) return { ratios, exact: true };
	const aspect = target.width / target.height;
	const needed = minimumAreaMultiplier(width, height, aspect);
	const wanted = (target.width * target.height) / (width * height);
	const multiplier = Math.min(Math.max(wanted, needed), MAX_AREA_MULTIPLIER);
	// At the smallest canvas, grow one axis exactly rather than through a square root; beyond 3×
	// smallestCanvasRatios refuses the shape, naming what it needs.
	return {
		ratios:
			multiplier <= needed
				? smallestCanvasRatios(width, height, aspect, placement)
				: ratiosFromAspect(width, height, multiplier, aspect, placement),
		exact: false,
	};
}

/** Pixels to add on each side of the original. */
export type PixelsPerSide = ExpansionRatios;

const PIXEL_FIELDS: Record<keyof ExpansionRatios, string> = {
	up: 'upPixels',
	down: 'downPixels',
	left: 'leftPixels',
	right: 'rightPixels',
};

/**
 * Pixels per side to Kling's ratios, from the image's real size. Refuses a side above 2× its
 * length or a canvas above 3× the area, naming the largest count that fits.
 */
export function ratiosFromPixels(
	width: number,
	height: number,
	pixels: PixelsPerSide,
): ExpansionRatios {
	const lengths = { up: height, down: height, left: width, right: width };
	for (const side of Object.keys(PIXEL_FIELDS) as Array<keyof ExpansionRatios>) {
		const value = pixels[side];
		const most = MAX_RATIO * lengths[side];
		if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > most) {
			throw new ValidationError(
				PIXEL_FIELDS[side],
				value,
				`for this ${width}×${height} image each side may grow by a whole number of pixels from 0 ` +
					`to ${most} (Kling's limit: 2× the ${side === 'up' || side === 'down' ? 'height' : 'width'})`,
			);
		}
	}
	const canvasWidth = width + pixels.left + pixels.right;
	const canvasHeight = height + pixels.up + pixels.down;
	if (canvasWidth * canvasHeight > MAX_AREA_MULTIPLIER * width * height) {
		const area = MAX_AREA_MULTIPLIER * width * height;
		const widthRoom = Math.floor(area / canvasHeight) - width;
		const heightRoom = Math.floor(area / canvasWidth) - height;
		const ways = [
			widthRoom >= 0 && `with up and down as they are, left + right may be at most ${widthRoom} px`,
			heightRoom >= 0 &&
				`with left and right as they are, up + down may be at most ${heightRoom} px`,
		].filter(Boolean);
		throw ValidationError.worded(
			'pixels per side',
			`${canvasWidth}×${canvasHeight}`,
			`A ${canvasWidth}×${canvasHeight} canvas is ` +
				`${round4((canvasWidth * canvasHeight) / (width * height))}× the area of this ` +
				`${width}×${height} image; Kling allows at most ${MAX_AREA_MULTIPLIER}×: ` +
				(ways.length ? ways.join('; ') : 'reduce both the width and the height it adds'),
		);
	}
	const longestSide = Math.max(width, height);
	return {
		up: ratioForPixels(pixels.up, height, longestSide),
		down: ratioForPixels(pixels.down, height, longestSide),
		left: ratioForPixels(pixels.left, width, longestSide),
		right: ratioForPixels(pixels.right, width, longestSide),
	};
}

/** The smallest area multiplier at which a canvas of `aspect` contains the original. */
export function minimumAreaMultiplier(width: number, height: number, aspect: number): number {
	const own = width / height;
	return aspect >= own ? aspect / own : own / aspect;
}

/** The canvas Kling will produce for these ratios, in pixels. */
export function expandedCanvasSize(width: number, height: number, ratios: ExpansionRatios) {
	return {
		width: Math.round(width * (1 + ratios.left + ratios.right)),
		height: Math.round(height * (1 + ratios.up + ratios.down)),
	};
}
