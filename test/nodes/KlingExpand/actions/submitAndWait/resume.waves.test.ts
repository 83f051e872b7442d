import { FAST_WAIT, requestsOf, testImage, useSimulator } from '../../../../harness/fixtures';
import { waitingExecution } from '../../../../harness/waiting';
import {
	binaryItem,
	expandWorkflow,
	EXPAND_NODE,
	simulatorCredentials,
} from '../../../../harness/workflows';

/** Each item's prompt sets its task's length: "long" 5 s, anything else 1 s. */
const simulator = useSimulator({
	taskDurationMs: (task) => (task.createBody.prompt === 'long' ? 5000 : 1000),
});

/** Callbacks that report a task's end: the ones that can resume the execution. */
const terminal = (delivery: { body: unknown }) =>
	['succeed', 'failed'].includes(String((delivery.body as { task_status?: unknown }).task_status));

/** Callback mode at Concurrency 2 on these prompts, one item each. */
async function run(prompts: string[]) {
	const sim = simulator();
	const workflow = expandWorkflow({
		operation: 'submitAndWait',
		waitMode: 'callback',
		imageSource: 'binary',
		expansionMode: 'ratios',
		upExpansionRatio: 0.2,
		downExpansionRatio: 0,
		leftExpansionRatio: 0,
		rightExpansionRatio: 0,
		prompt: '={{ $json.prompt }}',
		downloadImages: false,
		options: { ...FAST_WAIT, concurrency: 2, timeout: 60 },
	} as never);
	const execution = await waitingExecution(workflow, EXPAND_NODE, simulatorCredentials(sim.url));
	const input = await Promise.all(
		prompts.map(async (prompt) => ({ ...binaryItem(await testImage()), json: { prompt } })),
	);
	const started = await execution.start(input);
	const creates = requestsOf(sim, 'create').map(
		(request) => request.body as { callback_url?: string; external_task_id: string },
	);
	// By item: the external id ends with the item index.
	const callbackUrlOf = (itemIndex: number) =>
		creates.find((body) => body.external_task_id.endsWith(`-${itemIndex}`))?.callback_url;
	return { sim, execution, started, callbackUrlOf };
}

describe('Submit and Wait, callback mode: which tasks carry the resume URL', () => {
	it('gives it only to the last wave; earlier tasks are watched until they end, so no callback finds the execution running', async () => {
		const { execution, started, callbackUrlOf } = await run(['short', 'short', 'short', 'short']);
		expect(started.run.status).toBe('waiting');
		expect([0, 1, 2, 3].map((itemIndex) => callbackUrlOf(itemIndex) !== undefined)).toEqual([
			false,
			false,
			true,
			true,
		]);
		const resumed = await execution.resumedRun(20_000);
		expect(resumed!.output(EXPAND_NODE).map((item) => item.json.task_status)).toEqual([
			'succeed',
			'succeed',
			'succeed',
			'succeed',
		]);
		expect(execution.deliveries.filter(terminal)).not.toEqual([]);
		expect(
			execution.deliveries.filter((delivery) => terminal(delivery) && delivery.status === 409),
		).toEqual([]);
		await execution.close();
	}, 30_000);

	it('does not sleep when the last wave ended before an earlier task did: no callback is left to wake it', async () => {
		// Item 0 runs 5 s; items 2 and 3 (the last wave) start and end while it runs.
		const { execution, started, sim } = await run(['long', 'short', 'short', 'short']);
		expect(started.run.status).toBe('success');
		expect(
			started.output(EXPAND_NODE).map((item) => [item.json.task_status, item.json.wait_status]),
		).toEqual([0, 1, 2, 3].map(() => ['succeed', 'completed']));
		expect(sim.acceptedCreates()).toBe(4);
		await execution.close();
	}, 30_000);
});
