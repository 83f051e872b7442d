import fc from 'fast-check';
import type { INodeProperties } from 'n8n-workflow';

import { decodeBase64Image } from '../../../../nodes/KlingExpand/actions/imageInput';
import { parseAspectRatio, ratiosFromAspect } from '../../../../nodes/KlingExpand/helpers/ratios';
import { assertHttpUrl, ValidationError } from '../../../../nodes/shared/validationError';
import {
	validateImage,
	validateOptions,
	validateOptionTypes,
	validateRatios,
} from '../../../../nodes/KlingExpand/helpers/validation';

const FIELDS =
	/^(upExpansionRatio|downExpansionRatio|leftExpansionRatio|rightExpansionRatio|expansion ratios|prompt|numberOfImages|callbackUrl|imageBase64|image|targetAspectRatio|areaMultiplier)\b/;

/** Runs one parameter set through every check the node makes before sending; returns what was refused. */
function checkParameters(parameters: {
	ratios: Record<'up' | 'down' | 'left' | 'right', unknown>;
	prompt: unknown;
	n: unknown;
	callbackUrl: unknown;
	base64: unknown;
	aspect: unknown;
	multiplier: unknown;
	size: { width: number; height: number };
}): Error | undefined {
	try {
		validateOptions({
			prompt: parameters.prompt as string,
			n: parameters.n as number,
			callbackUrl: parameters.callbackUrl as string,
		});
		validateRatios(parameters.ratios as never);
		decodeBase64Image(parameters.base64 as string, 'imageBase64');
		validateImage(
			{ format: 'png', mimeType: 'image/png', extension: 'png', ...parameters.size },
			undefined,
		);
		validateRatios(
			ratiosFromAspect(
				parameters.size.width,
				parameters.size.height,
				parameters.multiplier as number,
				parseAspectRatio(parameters.aspect as string),
			),
		);
		return undefined;
	} catch (error) {
		return error as Error;
	}
}

const anyValue = fc.oneof(
	fc.double(),
	fc.integer(),
	fc.string(),
	fc.constant(undefined),
	fc.constant(null),
	fc.boolean(),
	fc.object(),
	fc.array(fc.anything(), { maxLength: 3 }),
);

describe('validation before sending', () => {
	it('refuses 10,000 generated parameter sets only with its own clear errors naming the field', () => {
		let refused = 0;
		fc.assert(
			fc.property(
				fc.record({
					ratios: fc.record({
						up: fc.oneof(fc.double({ min: -1, max: 3 }), anyValue),
						down: fc.double({ min: -1, max: 3 }),
						left: fc.double({ min: -1, max: 3 }),
						right: fc.oneof(fc.double({ min: 0, max: 2 }), anyValue),
					}),
					prompt: fc.oneof(fc.string({ maxLength: 3000 }), fc.constant('x'.repeat(2501)), anyValue),
					n: fc.oneof(fc.integer({ min: -2, max: 12 }), anyValue),
					callbackUrl: fc.oneof(
						fc.webUrl(),
						fc.string(),
						fc.constant('ftp://x'),
						fc.constant(undefined),
					),
					base64: fc.oneof(fc.base64String({ minLength: 4 }), fc.string(), anyValue),
					aspect: fc.oneof(
						fc.constantFrom('16:9', '9:16', '1:1', '4:3', '2.39:1', '1.5'),
						fc.string(),
						anyValue,
					),
					multiplier: fc.oneof(fc.double({ min: 0, max: 4 }), anyValue),
					size: fc.record({
						width: fc.integer({ min: 1, max: 10000 }),
						height: fc.integer({ min: 1, max: 10000 }),
					}),
				}),
				(parameters) => {
					const error = checkParameters(parameters);
					if (!error) return;
					refused++;
					expect(error instanceof ValidationError).toBe(true);
					const field = (error as ValidationError).field;
					expect(field).toMatch(FIELDS);
					expect(error.message.length).toBeGreaterThan(10);
				},
			),
			{ numRuns: 10_000, seed: 42 },
		);
		expect(refused).toBeGreaterThan(5000);
	});

	it.each([
		[{ up: 0.5, down: 0.5, left: 0.25, right: 0.25 }, undefined],
		[{ up: 2, down: 0, left: 0, right: 0 }, undefined],
		[{ up: 1, down: 1, left: 0, right: 0 }, undefined],
		[{ up: 1, down: 1, left: 0.01, right: 0 }, /at most 3× the original area/],
		[{ up: 2.0001, down: 0, left: 0, right: 0 }, /Up Expansion Ratio is 2.0001/],
		[{ up: Number.NaN, down: 0, left: 0, right: 0.1 }, /Up Expansion Ratio is NaN/],
		[
			{ up: '0.5', down: 0, left: 0, right: 0 },
			/Up Expansion Ratio is "0.5"; each expansion ratio must be a number/,
		],
	])('judges ratios %o', (ratios, expected) => {
		const attempt = () => validateRatios(ratios as never);
		if (expected) expect(attempt).toThrow(expected);
		else expect(attempt).not.toThrow();
	});

	it('accepts exactly 1:2.5 and 2.5:1 and refuses just beyond', () => {
		const check = (width: number, height: number) => () =>
			validateImage(
				{ format: 'png', mimeType: 'image/png', extension: 'png', width, height },
				1000,
			);
		expect(check(750, 300)).not.toThrow();
		expect(check(300, 750)).not.toThrow();
		expect(check(751, 300)).toThrow(/aspect ratio/);
		expect(check(300, 751)).toThrow(/aspect ratio/);
	});

	it('accepts only http(s) URLs', () => {
		expect(assertHttpUrl('https://example.com/a.png', 'imageUrl').hostname).toBe('example.com');
		for (const url of [
			'file:///etc/passwd',
			'ftp://x/y',
			'javascript:1',
			'data:,x',
			'example.com/a.png',
			'',
		]) {
			expect(() => assertHttpUrl(url, 'imageUrl')).toThrow(
				/Image URL is .*; it must be an http:\/\/ or https:\/\/ URL/,
			);
		}
	});

	it('accepts an External Task ID of up to 128 characters, the longest the trigger keeps', () => {
		expect(() => validateOptions({ externalTaskId: 'a'.repeat(128) })).not.toThrow();
		expect(() => validateOptions({ externalTaskId: 'a'.repeat(129) })).toThrow(
			/External Task ID is .*; an External Task ID must be at most 128 characters/,
		);
	});
});

describe('validateOptionTypes', () => {
	const fields = [
		{
			displayName: 'Timeout (Seconds)',
			name: 'timeout',
			type: 'number',
			default: 1,
			typeOptions: { minValue: 1 },
		},
		{
			displayName: 'Concurrency',
			name: 'concurrency',
			type: 'number',
			default: 5,
			typeOptions: { minValue: 1, maxValue: 100 },
		},
		{ displayName: 'External Task ID', name: 'externalTaskId', type: 'string', default: '' },
		{
			displayName: 'Reuse',
			name: 'reuse',
			type: 'number',
			default: 0,
			typeOptions: { minValue: 0, maxValue: 720 },
		},
	] as INodeProperties[];

	it('accepts options in range, below the panel minimum too (the code clamps), and ignores the ones not given', () => {
		expect(() => validateOptionTypes({ timeout: 0.5 }, fields)).not.toThrow();
		expect(() =>
			validateOptionTypes({ timeout: 1, concurrency: 100, externalTaskId: 'x' }, fields),
		).not.toThrow();
		expect(() => validateOptionTypes({}, fields)).not.toThrow();
	});

	it.each([
		[{ timeout: NaN }, 'Timeout (Seconds) is NaN; it must be a number greater than 0'],
		[{ timeout: 'abc' }, 'Timeout (Seconds) is "abc"; it must be a number greater than 0'],
		[{ timeout: { a: 1 } }, 'Timeout (Seconds) is {"a":1}; it must be a number greater than 0'],
		[{ timeout: Infinity }, 'Timeout (Seconds) is Infinity; it must be a number greater than 0'],
		[{ timeout: 0 }, 'Timeout (Seconds) is 0; it must be a number greater than 0'],
		[
			{ concurrency: 101 },
			'Concurrency is 101; it must be a number greater than 0 and at most 100',
		],
		[{ reuse: -1 }, 'Reuse is -1; it must be a number of at least 0 and at most 720'],
		[{ externalTaskId: 42 }, 'External Task ID is 42; it must be text'],
		[{ externalTaskId: ['a'] }, 'External Task ID is ["a"]; it must be text'],
	])('refuses %p, naming the field, the value and the rule', (options, message) => {
		expect(() => validateOptionTypes(options, fields)).toThrow(message);
	});
});
