import { CREATE_OPTION_FIELDS } from '../../../../nodes/KlingExpand/actions/batch';
import { runWorkflow } from '../../../harness/engine';
import { testImage, useSimulator } from '../../../harness/fixtures';
import {
	binaryItem,
	expandWorkflow,
	EXPAND_NODE,
	simulatorCredentials,
} from '../../../harness/workflows';

/**
 * Options set by expressions can be anything: each number option of the operations that create
 * (their own fields say which, and their bounds) is refused before anything is sent.
 */
const simulator = useSimulator();

const NUMBER_OPTIONS = CREATE_OPTION_FIELDS.filter((field) => field.type === 'number');

const BAD_VALUES: Array<[string, string, string]> = [
	['NaN', '={{ NaN }}', 'NaN'],
	['a string', '={{ "abc" }}', '"abc"'],
	['an object', '={{ { a: 1 } }}', '{"a":1}'],
];

/** The options each mode offers (n8n drops an option its mode does not show). */
const NOT_OFFERED: Record<string, string[]> = {
	submit: ['pollInterval', 'maxPollInterval', 'timeout', 'maxDownloadSize'],
	poll: [],
	callback: [],
};

const cases = Object.keys(NOT_OFFERED).flatMap((mode) =>
	NUMBER_OPTIONS.filter((field) => !NOT_OFFERED[mode].includes(field.name)).flatMap((field) =>
		BAD_VALUES.map(([what, expression, shown]) => ({ mode, field, what, expression, shown })),
	),
);

describe('every number option of the operations that create', () => {
	it('covers the options users can set by expression', () => {
		expect(NUMBER_OPTIONS.map((field) => field.name).sort()).toEqual(
			[
				'concurrency',
				'maxDownloadSize',
				'maxPollInterval',
				'pollInterval',
				'requestTimeout',
				'retryDelay',
				'reuseWithinHours',
				'timeout',
			].sort(),
		);
	});

	it.each(cases)(
		'$mode: $field.displayName set to $what is refused with a field-named error and no request to Kling',
		async ({ mode, field, expression, shown }) => {
			const sim = simulator();
			const result = await runWorkflow(
				expandWorkflow({
					operation: mode === 'submit' ? 'submit' : 'submitAndWait',
					waitMode: mode === 'callback' ? 'callback' : 'poll',
					imageSource: 'binary',
					expansionMode: 'aspectRatio',
					options: { [field.name]: expression },
				} as never),
				{
					startNode: EXPAND_NODE,
					input: [binaryItem(await testImage())],
					credentials: simulatorCredentials(sim.url),
				},
			);
			expect(result.error?.message).toMatch(
				new RegExp(`^${escape(field.displayName)} is ${escape(shown)}; it must be a number`),
			);
			expect(sim.requests).toHaveLength(0);
		},
	);
});

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
