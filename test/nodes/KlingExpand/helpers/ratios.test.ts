import fc from 'fast-check';

import {
	expandedCanvasSize,
	minimumAreaMultiplier,
	parseAspectRatio,
	ratiosFromAspect,
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
