import { runWorkflow } from '../../../../harness/engine';
import { FAST_WAIT, requestsOf, testImage, useSimulator } from '../../../../harness/fixtures';
import {
	binaryItem,
	EXPAND_NODE,
	expandWorkflow,
	simulatorCredentials,
	UP_DOWN_RATIOS,
} from '../../../../harness/workflows';

const simulator = useSimulator({ taskDurationMs: 150 });
describe('Submit and Wait under faults', () => {
	it('finishes 200 tasks through ~30 % transient faults on creates and queries, billing each exactly once', async () => {
		const sim = simulator();
		sim.setRandomFaults({
			rate: 0.3,
			on: ['create', 'query', 'list'],
			kinds: ['code', 'drop', 'dropAfterAccept', 'slow', 'malformed'],
			codes: [1302, 1303, 5000, 5001, 5002],
			delayMs: 700,
			seed: 20261123,
		});
		const image = await testImage(320, 320);
		const input = Array.from({ length: 200 }, () => binaryItem(image));
		const result = await runWorkflow(
			expandWorkflow({
				operation: 'submitAndWait',
				imageSource: 'binary',
				...UP_DOWN_RATIOS,
				downloadImages: false,
				options: { ...FAST_WAIT, requestTimeout: 0.5, concurrency: 25, timeout: 120 },
			} as never),
			{ startNode: EXPAND_NODE, input, credentials: simulatorCredentials(sim.url) },
		);
		expect(result.error).toBeUndefined();
		const output = result.output(EXPAND_NODE);
		expect(output).toHaveLength(200);
		expect(output.every((item) => item.json.task_status === 'succeed')).toBe(true);
		expect(new Set(output.map((item) => item.json.task_id)).size).toBe(200);
		expect(sim.acceptedCreates()).toBe(200);
		expect(sim.stats().faultsInjected).toBeGreaterThan(60);
		// Faults were really met: more creates were sent than tasks billed.
		expect(requestsOf(sim, 'create').length).toBeGreaterThan(200);
	}, 300_000);

	it('under Continue On Fail, gives one clear error item per non-retryable fault and keeps the rest', async () => {
		const sim = simulator();
		sim.failTasksWith(
			'The image did not pass content moderation',
			(body) => body.prompt === 'refuse me',
		);
		for (const code of [1102, 1201, 1301]) sim.injectFault({ on: 'create', kind: 'code', code });
		const image = await testImage(320, 320);
		const input = Array.from({ length: 10 }, (_, index) => ({
			...binaryItem(image),
			json: { prompt: index === 9 ? 'refuse me' : 'fine' },
		}));
		const workflow = expandWorkflow(
			{
				operation: 'submitAndWait',
				imageSource: 'binary',
				...UP_DOWN_RATIOS,
				prompt: '={{ $json.prompt }}',
				downloadImages: false,
				options: { ...FAST_WAIT, concurrency: 1 },
			} as never,
			{ onError: 'continueRegularOutput' },
		);
		const result = await runWorkflow(workflow, {
			startNode: EXPAND_NODE,
			input,
			credentials: simulatorCredentials(sim.url),
		});
		const output = result.output(EXPAND_NODE);
		expect(output).toHaveLength(10);
		const errors = output.filter((item) => item.json.error);
		expect(
			errors.map((item) => String(item.json.error).match(/Kling error (\d+)|failed: .*/)![0]),
		).toEqual([
			'Kling error 1102',
			'Kling error 1201',
			'Kling error 1301',
			'failed: The image did not pass content moderation',
		]);
		expect(errors.map((item) => item.pairedItem)).toEqual([
			{ item: 0 },
			{ item: 1 },
			{ item: 2 },
			{ item: 9 },
		]);
		expect(errors[3].json.task_id).toEqual(expect.any(String));
		expect(output.filter((item) => item.json.task_status === 'succeed')).toHaveLength(6);
		expect(sim.acceptedCreates()).toBe(7);
	});
});

describe('an error code inside an HTTP 200 answer to a create', () => {
	const submitOne = async (code: number) => {
		const sim = simulator();
		sim.injectFault({ on: 'create', kind: 'code', code, httpStatus: 200 });
		const result = await runWorkflow(
			expandWorkflow({
				operation: 'submit',
				imageSource: 'binary',
				...UP_DOWN_RATIOS,
				options: { ...FAST_WAIT },
			} as never),
			{
				startNode: EXPAND_NODE,
				input: [binaryItem(await testImage())],
				credentials: simulatorCredentials(sim.url),
			},
		);
		const lookups = requestsOf(sim, 'query').length + requestsOf(sim, 'list').length;
		return { sim, result, lookups };
	};

	it('is that error: a code that can heal is sent again, with no lookup, and bills once', async () => {
		const { sim, result, lookups } = await submitOne(5000);
		expect(result.error).toBeUndefined();
		expect(requestsOf(sim, 'create')).toHaveLength(2);
		expect(lookups).toBe(0);
		expect(sim.acceptedCreates()).toBe(1);
	});

	it('is that error: a final code ends the item with it, no lookup, and no talk of a lost answer', async () => {
		const { result, lookups } = await submitOne(1102);
		expect(result.error?.message).toMatch(/Kling error 1102/);
		expect(`${String(result.error?.message)} ${String(result.error?.description)}`).not.toMatch(
			/answer was lost|may still have made a task/,
		);
		expect(lookups).toBe(0);
	});
});
