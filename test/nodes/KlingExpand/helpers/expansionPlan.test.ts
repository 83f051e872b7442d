import { planExpansion } from '../../../../nodes/KlingExpand/helpers/expansionPlan';
import { PLACEMENTS } from '../../../../nodes/KlingExpand/helpers/ratios';
import { ValidationError } from '../../../../nodes/shared/validationError';

describe('planExpansion', () => {
	it("reports Kling's documented example at the left edge: ratios, the original's corner and the canvas", () => {
		const { ratios, summary } = planExpansion(
			{ width: 100, height: 100 },
			{ mode: 'aspectRatio', aspect: 16 / 9, area: 3, placement: PLACEMENTS.left },
		);
		expect(ratios).toEqual({ up: 0.1495, down: 0.1495, left: 0, right: 1.3094 });
		expect(summary).toEqual({
			...ratios,
			original_width: 100,
			original_height: 100,
			original_x: 0,
			original_y: 15,
			expected_width: 231,
			expected_height: 130,
		});
	});

	it('grows a 4:3 image to 16:9 by the sides only with the smallest canvas', () => {
		const { summary } = planExpansion(
			{ width: 800, height: 600 },
			{ mode: 'aspectRatio', aspect: 16 / 9, area: 'smallest', placement: PLACEMENTS.center },
		);
		expect(summary).toMatchObject({ up: 0, down: 0, expected_width: 1067, expected_height: 600 });
		expect(summary.original_x).toBe(133);
	});

	it('says a canvas size is exact when Kling can make it', () => {
		const { summary } = planExpansion(
			{ width: 600, height: 500 },
			{ mode: 'canvasSize', size: { width: 1200, height: 628 }, placement: PLACEMENTS.left },
		);
		expect(summary).toMatchObject({
			expected_width: 1200,
			expected_height: 628,
			requested_width: 1200,
			requested_height: 628,
			exact: true,
			original_x: 0,
			original_y: 64,
		});
		expect(summary.note).toBeUndefined();
	});

	it('states the size Kling will return and how to resize with Edit Image when it cannot be exact', () => {
		const small = planExpansion(
			{ width: 1000, height: 1000 },
			{ mode: 'canvasSize', size: { width: 1200, height: 628 }, placement: PLACEMENTS.left },
		).summary;
		expect(small).toMatchObject({ exact: false, expected_width: 1911, expected_height: 1000 });
		expect(small.note).toBe(
			'Kling will return 1911×1000, the shape of 1200×628: Kling keeps the 1000×1000 original at ' +
				'its size, so it cannot make a smaller canvas. To get 1200×628, resize afterwards with ' +
				"n8n's Edit Image node (Operation Resize, Width 1200, Height 628, Resize Option Ignore " +
				'Aspect Ratio).',
		);
		const large = planExpansion(
			{ width: 400, height: 400 },
			{ mode: 'canvasSize', size: { width: 1200, height: 628 }, placement: PLACEMENTS.center },
		).summary;
		expect(large).toMatchObject({ exact: false, expected_width: 958, expected_height: 501 });
		expect(large.note).toMatch(/Kling adds at most 2× per side and 3× the area around this image/);
	});

	it('converts pixels per side and reports the canvas', () => {
		const { summary } = planExpansion(
			{ width: 640, height: 480 },
			{ mode: 'pixels', pixels: { up: 0, down: 120, left: 100, right: 37 } },
		);
		expect(summary).toMatchObject({
			original_x: 100,
			original_y: 0,
			expected_width: 777,
			expected_height: 600,
		});
	});

	it("checks every mode's ratios against Kling's rules: nothing to expand is refused", () => {
		expect(() =>
			planExpansion(
				{ width: 640, height: 480 },
				{ mode: 'pixels', pixels: { up: 0, down: 0, left: 0, right: 0 } },
			),
		).toThrow(/at least one side must be expanded/);
		expect(() =>
			planExpansion(
				{ width: 640, height: 480 },
				{ mode: 'canvasSize', size: { width: 640, height: 480 }, placement: PLACEMENTS.center },
			),
		).toThrow(ValidationError);
		expect(() =>
			planExpansion(
				{ width: 640, height: 480 },
				{ mode: 'ratios', ratios: { up: 2.4, down: 0, left: 0, right: 0 } },
			),
		).toThrow(/Up Expansion Ratio is 2.4; each expansion ratio must be a number between 0 and 2/);
	});
});
