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
 * Kling's documented helper: the ratios that grow a W×H image to `areaMultiplier`× its area at
 * `aspect` (width / height), centred. Rounded down to 4 decimals like the provider's example
 * (100×100, ×3, 16:9 → 0.1495, 0.1495, 0.6547, 0.6547), more for very large images (see
 * floorRatio). Refuses rather than return a negative ratio.
 * @see https://app.klingai.com/global/dev/document-api/apiReference/model/imageExpansion
 */
export function ratiosFromAspect(
	width: number,
	height: number,
	areaMultiplier: number,
	aspect: number,
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
	const vertical = (targetHeight - height) / 2 / height;
	const horizontal = (targetWidth - width) / 2 / width;
	const longestSide = Math.max(width, height);
	const ratios = {
		up: floorRatio(vertical, longestSide),
		down: floorRatio(vertical, longestSide),
		left: floorRatio(horizontal, longestSide),
		right: floorRatio(horizontal, longestSide),
	};
	if (ratios.up < 0 || ratios.left < 0) {
		const needed = minimumAreaMultiplier(width, height, aspect);
		throw ValidationError.worded(
			'areaMultiplier',
			areaMultiplier,
			`A ${width}×${height} image does not fit inside a canvas of aspect ${round4(aspect)} at ` +
				`${areaMultiplier}× its area; ` +
				(needed <= MAX_AREA_MULTIPLIER
					? `use an area multiplier of at least ${Math.ceil(needed * 100) / 100}`
					: `that shape needs ${Math.ceil(needed * 100) / 100}× the area, more than Kling's ` +
						`limit of ${MAX_AREA_MULTIPLIER}×; choose an aspect ratio closer to the image's own`),
		);
	}
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
