import { FAST_WAIT, testImage, useSimulator } from '../../../../harness/fixtures';
import { waitingExecution } from '../../../../harness/waiting';
import {
	binaryItem,
	EXPAND_NODE,
	expandWorkflow,
	simulatorCredentials,
	UP_RATIOS,
} from '../../../../harness/workflows';
import type { ExternalIdLookup } from '../../../../simulator';

/** The resume webhook with Kling's newer callback shape, whichever external-id lookup form the provider understands. */
const simulator = useSimulator({ taskDurationMs: 300, callbackShape: 'new' });

it.each<ExternalIdLookup>(['path', 'pathFlag', 'collection'])(
	'new-shape callbacks resume the execution (external ids looked up by %s)',
	async (mode) => {
		const sim = simulator();
		sim.setModes({ externalIdLookup: mode });
		const workflow = expandWorkflow({
			operation: 'submitAndWait',
			waitMode: 'callback',
			imageSource: 'binary',
			...UP_RATIOS,
			downloadImages: false,
			options: { ...FAST_WAIT, timeout: 60 },
		} as never);
		const execution = await waitingExecution(workflow, EXPAND_NODE, simulatorCredentials(sim.url));
		const started = await execution.start(
			await Promise.all([0, 1].map(async () => binaryItem(await testImage()))),
		);
		expect(started.error).toBeUndefined();
		const resumed = await execution.resumedRun();
		expect(resumed?.error).toBeUndefined();
		// Every callback the resume webhook received was new-style, and a 'succeeded' one resumed the run.
		const received = execution.deliveries.map(
			(delivery) => delivery.body as { id?: string; task_id?: string; status?: string },
		);
		expect(received.length).toBeGreaterThan(0);
		expect(received.every((body) => body.id !== undefined && body.task_id === undefined)).toBe(
			true,
		);
		expect(execution.deliveries.find((delivery) => delivery.resumed)?.body).toMatchObject({
			status: 'succeeded',
		});
		expect(
			resumed!.output(EXPAND_NODE).map((item) => [item.json.task_status, item.json.wait_status]),
		).toEqual([
			['succeed', 'completed'],
			['succeed', 'completed'],
		]);
		expect(sim.acceptedCreates()).toBe(2);
		await execution.close();
	},
);
