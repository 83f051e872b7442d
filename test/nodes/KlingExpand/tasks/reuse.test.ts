import {
	inputFingerprint,
	reuseWindowMs,
	withFingerprint,
} from '../../../../nodes/KlingExpand/tasks/reuse';
import { capturedLogs, runWorkflow } from '../../../harness/engine';
import { FAST_WAIT, requestsOf, testImage, useSimulator } from '../../../harness/fixtures';
import {
	binaryItem,
	expandWorkflow,
	EXPAND_NODE,
	simulatorCredentials,
} from '../../../harness/workflows';

const simulator = useSimulator({ taskDurationMs: 300 });

describe('reuseWindowMs', () => {
	it('is 0 (off) when unset or 0, and hours in milliseconds otherwise', () => {
		expect(reuseWindowMs(undefined)).toBe(0);
		expect(reuseWindowMs(0)).toBe(0);
		expect(reuseWindowMs(1.5)).toBe(5_400_000);
	});
});

describe('inputFingerprint', () => {
	const body = { image: 'aGVsbG8=', up_expansion_ratio: 0.5, n: 1, external_task_id: 'a' };

	it('depends on what the create asks for, not on its ids or callback URL', () => {
		const fingerprint = inputFingerprint(body);
		expect(fingerprint).toMatch(/^[0-9a-f]{16}$/);
		expect(
			inputFingerprint({ ...body, external_task_id: 'b', callback_url: 'https://x.example/' }),
		).toBe(fingerprint);
		expect(inputFingerprint({ n: 1, up_expansion_ratio: 0.5, image: 'aGVsbG8=' })).toBe(
			fingerprint,
		);
		expect(inputFingerprint({ ...body, up_expansion_ratio: 0.25 })).not.toBe(fingerprint);
		expect(inputFingerprint({ ...body, image: 'aGVsbG9v' })).not.toBe(fingerprint);
		expect(inputFingerprint({ ...body, prompt: 'sky' })).not.toBe(fingerprint);
	});

	it('is appended to a generated id as -f<fingerprint>', () => {
		expect(withFingerprint('n8n-1-0a1b2c3d-0-2', '0123456789abcdef')).toBe(
			'n8n-1-0a1b2c3d-0-2-f0123456789abcdef',
		);
	});
});

/** Submit and Wait in Poll mode, one item at a time, each item its own image. */
const workflow = (
	reuseWithinHours?: number,
	upExpansionRatio = 0.5,
	nodeSettings: Parameters<typeof expandWorkflow>[1] = {},
) =>
	expandWorkflow(
		{
			operation: 'submitAndWait',
			imageSource: 'binary',
			expansionMode: 'ratios',
			upExpansionRatio,
			downExpansionRatio: 0,
			leftExpansionRatio: 0.25,
			rightExpansionRatio: 0.25,
			downloadImages: false,
			options: {
				...FAST_WAIT,
				concurrency: 1,
				...(reuseWithinHours === undefined ? {} : { reuseWithinHours }),
			},
		} as never,
		nodeSettings,
	);

const items = async (count: number) =>
	await Promise.all(
		Array.from({ length: count }, async (_, index) => ({
			...binaryItem(await testImage(400 + index * 20, 300)),
			json: { index },
		})),
	);

/** A run that dies after Kling accepted its second create: nothing of it is kept, as after kill -9. */
async function crashAfterTwoCreates(spec: ReturnType<typeof workflow>, executionId: string) {
	const sim = simulator();
	const crash = new AbortController();
	const running = runWorkflow(spec, {
		startNode: EXPAND_NODE,
		input: await items(3),
		credentials: simulatorCredentials(sim.url),
		executionId,
		signal: crash.signal,
	});
	while (sim.acceptedCreates() < 2) await new Promise((resolve) => setTimeout(resolve, 5));
	crash.abort();
	await running;
	expect(sim.acceptedCreates()).toBe(2);
}

/** Running it again after the crash: n8n's Retry of a crashed execution starts the node afresh. */
const runAgain = async (spec: ReturnType<typeof workflow>) =>
	await runWorkflow(spec, {
		startNode: EXPAND_NODE,
		input: await items(3),
		credentials: simulatorCredentials(simulator().url),
		executionId: '7002',
	});

describe('what running again after a crash bills', () => {
	it('by default, every item again: 3 items cost 5 creates (2 crashed + 3)', async () => {
		const spec = workflow();
		await crashAfterTwoCreates(spec, '7001');
		const again = await runAgain(spec);
		expect(again.error).toBeUndefined();
		expect(simulator().acceptedCreates()).toBe(5);
	});

	it('with Reuse Task for Same Input Within (Hours), the tasks the crashed run paid for are taken: 3 items cost 3 creates, for one list request more', async () => {
		const spec = workflow(1);
		await crashAfterTwoCreates(spec, '7001');
		const crashed = [...simulator().tasks.values()];
		const listsBefore = requestsOf(simulator(), 'list').length;
		capturedLogs.length = 0;
		const again = await runAgain(spec);
		expect(again.error).toBeUndefined();
		const output = again.output(EXPAND_NODE);
		expect(output.map((item) => item.json.task_status)).toEqual(['succeed', 'succeed', 'succeed']);
		expect(output.slice(0, 2).map((item) => item.json.task_id)).toEqual(
			crashed.map((task) => task.task_id),
		);
		expect(String(output[2].json.external_task_id)).toMatch(
			/^n8n-7002-[0-9a-f]{8}-0-2-f[0-9a-f]{16}$/,
		);
		expect(simulator().acceptedCreates()).toBe(3);
		expect(capturedLogs.filter((line) => line.includes('reusing task'))).toHaveLength(2);
		// The scan is one list page here; the poll's own list requests come on top.
		expect(requestsOf(simulator(), 'list').length - listsBefore).toBeGreaterThanOrEqual(1);
	});

	it('takes no task made for other settings', async () => {
		await crashAfterTwoCreates(workflow(1), '7001');
		await runAgain(workflow(1, 0.25));
		expect(simulator().acceptedCreates()).toBe(5);
	});

	it('takes no task older than the window', async () => {
		await crashAfterTwoCreates(workflow(0.0001), '7001');
		// 0.0001 h is 360 ms.
		await new Promise((resolve) => setTimeout(resolve, 500));
		await runAgain(workflow(0.0001));
		expect(simulator().acceptedCreates()).toBe(5);
	});

	it('gives two items with the same input a task each', async () => {
		const sim = simulator();
		const spec = workflow(1);
		const same = { ...binaryItem(await testImage()), json: {} };
		const run = () =>
			runWorkflow(spec, {
				startNode: EXPAND_NODE,
				input: [same, same],
				credentials: simulatorCredentials(sim.url),
			});
		await run();
		expect(sim.acceptedCreates()).toBe(2);
		const second = await run();
		expect(sim.acceptedCreates()).toBe(2);
		const ids = second.output(EXPAND_NODE).map((item) => item.json.task_id);
		expect(new Set(ids).size).toBe(2);
	});

	it('under Retry On Fail, a try takes again the task an earlier try reused, instead of paying for it', async () => {
		await crashAfterTwoCreates(workflow(1), '7001');
		const sim = simulator();
		// The next create to arrive (the third item's, as the first two reuse) is refused for good, so
		// n8n runs the node again: the first two items sent nothing under their own ids.
		sim.injectFault({ on: 'create', kind: 'code', code: 1102, times: 1 });
		const retried = workflow(1, 0.5, { retryOnFail: true, maxTries: 2, waitBetweenTries: 0 });
		const again = await runWorkflow(retried, {
			startNode: EXPAND_NODE,
			input: await items(3),
			credentials: simulatorCredentials(sim.url),
			executionId: '7003',
		});
		expect(again.error).toBeUndefined();
		expect(again.output(EXPAND_NODE).map((item) => item.json.task_status)).toEqual([
			'succeed',
			'succeed',
			'succeed',
		]);
		// 2 by the crashed run, 1 for the third item: the retry reused the first two again.
		expect(sim.acceptedCreates()).toBe(3);
	});
});
