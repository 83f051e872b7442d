import type { ExpansionRatios, PixelSize, Placement } from './ratios';
import {
	expandedCanvasSize,
	ratiosForCanvas,
	ratiosFromAspect,
	ratiosFromPixels,
	smallestCanvasRatios,
} from './ratios';
import { validateRatios } from './validation';

/** How the user asked to expand, one variant per Expansion Mode, in plain values. */
export type ExpansionRequest =
	| { mode: 'aspectRatio'; aspect: number; area: 'smallest' | number; placement: Placement }
	| { mode: 'canvasSize'; size: PixelSize; placement: Placement }
	| { mode: 'pixels'; pixels: ExpansionRatios }
	| { mode: 'ratios'; ratios: ExpansionRatios };

/**
 * The geometry the node worked out, reported on every output so users see the canvas they will
 * get: the ratios sent, the original's size and its top-left corner on the canvas, the canvas size.
 * Canvas Size mode adds the size asked for and whether Kling's canvas matches it.
 */
export interface ExpansionSummary extends ExpansionRatios {
	original_width: number;
	original_height: number;
	original_x: number;
	original_y: number;
	expected_width: number;
	expected_height: number;
	requested_width?: number;
	requested_height?: number;
	exact?: boolean;
	note?: string;
}

function ratiosFor(image: PixelSize, request: ExpansionRequest) {
	const { width, height } = image;
	switch (request.mode) {
		case 'aspectRatio':
			return request.area === 'smallest'
				? smallestCanvasRatios(width, height, request.aspect, request.placement)
				: ratiosFromAspect(width, height, request.area, request.aspect, request.placement);
		case 'canvasSize':
			return ratiosForCanvas(width, height, request.size, request.placement).ratios;
		case 'pixels':
			return ratiosFromPixels(width, height, request.pixels);
		case 'ratios':
			return request.ratios;
	}
}

/** What to tell the user when Kling's canvas is not the size asked for. */
function resizeNote(image: PixelSize, canvas: PixelSize, requested: PixelSize): string {
	const why =
		requested.width < image.width || requested.height < image.height
			? `Kling keeps the ${image.width}×${image.height} original at its size, so it cannot make ` +
				'a smaller canvas'
			: 'Kling adds at most 2× per side and 3× the area around this image';
	return (
		`Kling will return ${canvas.width}×${canvas.height}, the shape of ` +
		`${requested.width}×${requested.height}: ${why}. To get ${requested.width}×` +
		`${requested.height}, resize afterwards with n8n's Edit Image node (Operation Resize, Width ` +
		`${requested.width}, Height ${requested.height}, Resize Option Ignore Aspect Ratio).`
	);
}

/**
 * The four ratios for one image and request, checked against Kling's rules (each in [0, 2], at most
 * 3× the area), with the summary every output carries. Throws ValidationError before any request.
 */
export function planExpansion(
	image: PixelSize,
	request: ExpansionRequest,
): { ratios: ExpansionRatios; summary: ExpansionSummary } {
	const ratios = ratiosFor(image, request);
	validateRatios(ratios);
	const canvas = expandedCanvasSize(image.width, image.height, ratios);
	const summary: ExpansionSummary = {
		...ratios,
		original_width: image.width,
		original_height: image.height,
		// Where Kling's canvas puts the original: its left and top margins, as the ratios say.
		original_x: Math.round(ratios.left * image.width),
		original_y: Math.round(ratios.up * image.height),
		expected_width: canvas.width,
		expected_height: canvas.height,
	};
	if (request.mode === 'canvasSize') {
		const { size } = request;
		summary.requested_width = size.width;
		summary.requested_height = size.height;
		summary.exact = canvas.width === size.width && canvas.height === size.height;
		if (!summary.exact) summary.note = resizeNote(image, canvas, size);
	}
	return { ratios, summary };
}
