import fc from 'fast-check';

import type { ExpansionRatios, PlacementName } from '../../../../nodes/KlingExpand/helpers/ratios';
import {
	customPlacement,
	expandedCanvasSize,
	minimumAreaMultiplier,
	parseAspectRatio,
	parseCanvasSize,
	PLACEMENTS,
	ratiosForCanvas,
	ratiosFromAspect,
	ratiosFromPixels,
	smallestCanvasRatios,
} from '../../../../nodes/KlingExpand/helpers/ratios';
import { MAX_AREA_MULTIPLIER } from '../../../../nodes/shared/kling';
import { ValidationError } from '../../../../nodes/shared/validationError';

describe('ratiosFromAspect', () => {
	it("reproduces the provider's documented example exactly", () => {
		expect(ratiosFromAspect(100, 100, 3, 16 / 9)).toEqual({
			up: 0.1495,
			down: 0.1495,
			left: 0.6547,
			right: 0.6547,
		});
	});

	it('uses more than 4 decimals only for images large enough to need them (a counterexample fast-check found)', () => {
		const ratios = ratiosFromAspect(7497, 7177, 2.4158782933018883, 1.8512899875420432);
		const canvas = expandedCanvasSize(7497, 7177, ratios);
		expect(Math.abs(canvas.width - canvas.height * 1.8512899875420432)).toBeLessThanOrEqual(
			1 + 1.8513,
		);
		expect(String(ratios.left).split('.')[1].length).toBeGreaterThan(4);
		expect(String(ratiosFromAspect(2000, 1000, 2, 1).up).split('.')[1].length).toBeLessThanOrEqual(
			4,
		);
	});

	it('gives the same answer for "16:9" parsed as for 16/9', () => {
		expect(ratiosFromAspect(100, 100, 3, parseAspectRatio('16:9'))).toEqual(
			ratiosFromAspect(100, 100, 3, 16 / 9),
		);
	});

	it('refuses a shape that cannot contain the original at that area, and names the smallest multiplier that works', () => {
		const attempt = () => ratiosFromAspect(1000, 1000, 1.5, 16 / 9);
		expect(attempt).toThrow(ValidationError);
		expect(attempt).toThrow(/at least 1\.78/);
	});

	it("says when no multiplier within Kling's 3× limit can work", () => {
		expect(() => ratiosFromAspect(1000, 400, 3, 1 / 3)).toThrow(/more than Kling's limit of 3×/);
	});

	it('refuses an area multiplier outside 1–3', () => {
		expect(() => ratiosFromAspect(500, 500, 3.5, 1)).toThrow(
			/Area multiplier is 3.5; it must be between 1 and 3/,
		);
		expect(() => ratiosFromAspect(500, 500, 0.5, 1)).toThrow(ValidationError);
	});

	it('holds for any valid size, aspect and multiplier: target aspect (±1 px), area (±1 %), ratios in [0, 2], or a clear error', () => {
		fc.assert(
			fc.property(
				fc.integer({ min: 300, max: 8000 }),
				fc.integer({ min: 300, max: 8000 }),
				fc.double({ min: 1, max: MAX_AREA_MULTIPLIER, noNaN: true }),
				fc.double({ min: 0.2, max: 5, noNaN: true }),
				(width, height, multiplier, aspect) => {
					let ratios;
					try {
						ratios = ratiosFromAspect(width, height, multiplier, aspect);
					} catch (error) {
						expect(error).toBeInstanceOf(ValidationError);
						expect((error as ValidationError).message).toMatch(/multiplier|ratio/);
						// Refused only when the shape truly cannot hold the original, or a side would pass 2.
						const fits = minimumAreaMultiplier(width, height, aspect) <= multiplier + 1e-9;
						if (fits) expect((error as ValidationError).field).toBe('targetAspectRatio');
						return;
					}
					for (const value of Object.values(ratios)) {
						expect(value).toBeGreaterThanOrEqual(0);
						expect(value).toBeLessThanOrEqual(2);
					}
					const canvas = expandedCanvasSize(width, height, ratios);
					expect(Math.abs(canvas.width - canvas.height * aspect)).toBeLessThanOrEqual(1 + aspect);
					expect(
						Math.abs(canvas.width * canvas.height - multiplier * width * height) /
							(multiplier * width * height),
					).toBeLessThanOrEqual(0.01);
					expect(
						(1 + ratios.left + ratios.right) * (1 + ratios.up + ratios.down),
					).toBeLessThanOrEqual(MAX_AREA_MULTIPLIER + 1e-9);
				},
			),
			{ numRuns: 5000 },
		);
	});
});

describe('parseAspectRatio', () => {
	it.each([
		['16:9', 16 / 9],
		['9:16', 9 / 16],
		['1:1', 1],
		['4/3', 4 / 3],
		[' 1.7778 ', 1.7778],
		['2.39:1', 2.39],
	])('reads %s', (text, value) => expect(parseAspectRatio(text)).toBeCloseTo(value, 10));

	it.each(['', 'wide', '16:0', '0', '-1', '16:9:1', 'NaN'])(
		'refuses %p, naming the field and the expected form',
		(text) => {
			expect(() => parseAspectRatio(text)).toThrow(
				/Target aspect ratio is .*; it must be width:height such as 16:9/,
			);
		},
	);
});

describe('ratiosFromAspect with a placement', () => {
	it("puts Kling's documented example at the middle of the left edge: all the new width on the right", () => {
		expect(ratiosFromAspect(100, 100, 3, 16 / 9, PLACEMENTS.left)).toEqual({
			up: 0.1495,
			down: 0.1495,
			left: 0,
			right: 1.3094,
		});
	});

	it.each<[PlacementName, ExpansionRatios]>([
		['center', { up: 0.1495, down: 0.1495, left: 0.6547, right: 0.6547 }],
		['top', { up: 0, down: 0.299, left: 0.6547, right: 0.6547 }],
		['bottom', { up: 0.299, down: 0, left: 0.6547, right: 0.6547 }],
		['right', { up: 0.1495, down: 0.1495, left: 1.3094, right: 0 }],
		['topLeft', { up: 0, down: 0.299, left: 0, right: 1.3094 }],
		['topRight', { up: 0, down: 0.299, left: 1.3094, right: 0 }],
		['bottomLeft', { up: 0.299, down: 0, left: 0, right: 1.3094 }],
		['bottomRight', { up: 0.299, down: 0, left: 1.3094, right: 0 }],
	])('places the original at %s', (placement, expected) => {
		expect(ratiosFromAspect(100, 100, 3, 16 / 9, PLACEMENTS[placement])).toEqual(expected);
	});

	it('splits the free space by a custom position (0.25 across, two thirds down)', () => {
		const ratios = ratiosFromAspect(100, 100, 3, 16 / 9, customPlacement(0.25, 2 / 3));
		expect(ratios.left).toBeCloseTo(1.3094 * 0.25, 3);
		expect(ratios.right).toBeCloseTo(1.3094 * 0.75, 3);
		expect(ratios.up).toBeCloseTo(0.299 * (2 / 3), 3);
		expect(ratios.down).toBeCloseTo(0.299 / 3, 3);
	});

	it('refuses a custom position outside 0–1, naming the field', () => {
		expect(() => customPlacement(1.2, 0.5)).toThrow(
			/Horizontal Position is 1.2; it must be a number from 0 \(left \/ top edge\) to 1/,
		);
		expect(() => customPlacement(0.5, -0.1)).toThrow(/Vertical Position is -0.1/);
	});

	it("never passes Kling's 2× per side within 3× the area, even on the far side of a corner placement", () => {
		// A side past 2× means the canvas is over 3× as wide as the image, so at most 3× the area
		// leaves the height below the original's: the shape would not fit, a different error.
		fc.assert(
			fc.property(
				fc.integer({ min: 300, max: 4000 }),
				fc.integer({ min: 300, max: 4000 }),
				fc.double({ min: 1, max: MAX_AREA_MULTIPLIER, noNaN: true }),
				fc.double({ min: 0.2, max: 5, noNaN: true }),
				fc.constantFrom(...Object.values(PLACEMENTS)),
				(width, height, multiplier, aspect, placement) => {
					if (minimumAreaMultiplier(width, height, aspect) > multiplier) return;
					const ratios = ratiosFromAspect(width, height, multiplier, aspect, placement);
					expect(Math.max(...Object.values(ratios))).toBeLessThanOrEqual(2);
					expect(Math.min(...Object.values(ratios))).toBeGreaterThanOrEqual(0);
				},
			),
			{ numRuns: 3000 },
		);
	});
});

describe('smallestCanvasRatios', () => {
	it('grows a 4:3 image to 16:9 by the sides only (4/3 of the area)', () => {
		const ratios = smallestCanvasRatios(1200, 900, 16 / 9);
		expect(ratios).toEqual({ up: 0, down: 0, left: 0.1666, right: 0.1666 });
		expect(expandedCanvasSize(1200, 900, ratios)).toEqual({ width: 1600, height: 900 });
	});

	it('grows only the height for a taller shape, with the original at the bottom', () => {
		const ratios = smallestCanvasRatios(1080, 1080, 9 / 16, PLACEMENTS.bottom);
		expect(ratios.left).toBe(0);
		expect(ratios.right).toBe(0);
		expect(ratios.down).toBe(0);
		expect(expandedCanvasSize(1080, 1080, ratios)).toEqual({ width: 1080, height: 1920 });
	});

	it("refuses a shape whose smallest canvas is over Kling's limits, and says by how much", () => {
		expect(() => smallestCanvasRatios(1000, 400, 1 / 3)).toThrow(
			/smallest canvas of aspect 0.3333 around a 1000×400 image is 7.5× its area; Kling allows at most/,
		);
		// 1:1 → 3:1 needs exactly 3×, allowed even at the left edge (the right side grows by 2×).
		expect(smallestCanvasRatios(500, 500, 3, PLACEMENTS.left)).toEqual({
			up: 0,
			down: 0,
			left: 0,
			right: 2,
		});
		expect(() => smallestCanvasRatios(500, 500, 3.2)).toThrow(
			/is 3.2× its area; Kling allows at most 3×/,
		);
	});
});

describe('ratiosForCanvas', () => {
	it('makes the exact canvas when the image is large enough: 600×500 → 1200×628, left edge', () => {
		const { ratios, exact } = ratiosForCanvas(
			600,
			500,
			{ width: 1200, height: 628 },
			PLACEMENTS.left,
		);
		expect(exact).toBe(true);
		expect(ratios).toEqual({ up: 0.128, down: 0.128, left: 0, right: 1 });
		expect(expandedCanvasSize(600, 500, ratios)).toEqual({ width: 1200, height: 628 });
	});

	it('lands on every pixel for awkward sizes (ratios rounded to the nearest step, not down)', () => {
		fc.assert(
			fc.property(
				fc.integer({ min: 300, max: 4000 }),
				fc.integer({ min: 300, max: 4000 }),
				fc.double({ min: 0, max: 1, noNaN: true }),
				fc.double({ min: 0, max: 1, noNaN: true }),
				fc.double({ min: 0, max: 0.7, noNaN: true }),
				fc.double({ min: 0, max: 0.7, noNaN: true }),
				(width, height, x, y, growX, growY) => {
					const target = {
						width: width + Math.round(growX * width),
						height: height + Math.round(growY * height),
					};
					const { ratios, exact } = ratiosForCanvas(width, height, target, { x, y });
					expect(exact).toBe(true);
					expect(expandedCanvasSize(width, height, ratios)).toEqual(target);
				},
			),
			{ numRuns: 2000 },
		);
	});

	it('falls back to the smallest canvas of that shape when the target is smaller than the image', () => {
		const { ratios, exact } = ratiosForCanvas(1000, 1000, { width: 1200, height: 628 });
		expect(exact).toBe(false);
		expect(expandedCanvasSize(1000, 1000, ratios)).toEqual({ width: 1911, height: 1000 });
	});

	it('falls back to the largest canvas Kling allows when the target needs more than 3× the area', () => {
		const { ratios, exact } = ratiosForCanvas(400, 400, { width: 1200, height: 628 });
		expect(exact).toBe(false);
		const canvas = expandedCanvasSize(400, 400, ratios);
		expect((canvas.width * canvas.height) / (400 * 400)).toBeCloseTo(3, 1);
		expect(canvas.width / canvas.height).toBeCloseTo(1200 / 628, 2);
	});
});

describe('ratiosFromPixels', () => {
	it("converts pixels to ratios from the image's real size", () => {
		const ratios = ratiosFromPixels(640, 480, { up: 0, down: 120, left: 100, right: 37 });
		expect(ratios).toEqual({ up: 0, down: 0.25, left: 0.1563, right: 0.0578 });
		expect(expandedCanvasSize(640, 480, ratios)).toEqual({ width: 777, height: 600 });
	});

	it('refuses more than 2× a side, naming the field and the largest count', () => {
		expect(() => ratiosFromPixels(400, 300, { up: 0, down: 0, left: 801, right: 0 })).toThrow(
			/Left Pixels is 801; for this 400×300 image each side may grow by a whole number of pixels from 0 to 800/,
		);
		expect(() => ratiosFromPixels(400, 300, { up: 10.5, down: 0, left: 0, right: 0 })).toThrow(
			/Up Pixels is 10.5/,
		);
	});

	it('refuses a canvas above 3× the area and names the largest sums that fit', () => {
		const attempt = () => ratiosFromPixels(400, 400, { up: 200, down: 0, left: 400, right: 400 });
		// 1200×600 = 4.5×: with 600 px of height the width may be 800 (left + right 400); with 1200 px of
		// width the height may be 400 (up + down 0).
		expect(attempt).toThrow(/1200×600 canvas is 4.5× the area of this 400×400 image/);
		expect(attempt).toThrow(/left \+ right may be at most 400 px/);
		expect(attempt).toThrow(/up \+ down may be at most 0 px/);
		expect(() =>
			ratiosFromPixels(400, 400, { up: 200, down: 0, left: 200, right: 200 }),
		).not.toThrow();
	});
});

describe('parseCanvasSize', () => {
	it.each([
		['1200x628', { width: 1200, height: 628 }],
		['1080×1920', { width: 1080, height: 1920 }],
		[' 1080 X 1080 ', { width: 1080, height: 1080 }],
		['1920*1080', { width: 1920, height: 1080 }],
	])('reads %s', (text, size) => expect(parseCanvasSize(text)).toEqual(size));

	it.each(['', '1200', '16:9', '0x500', '1200x628.5', 'wide'])('refuses %p', (text) => {
		expect(() => parseCanvasSize(text)).toThrow(
			/Canvas Size is .*; it must be width x height in whole pixels, such as 1200x628/,
		);
	});
});
