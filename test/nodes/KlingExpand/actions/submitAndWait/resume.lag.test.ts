import { FAST_WAIT, testImage, useSimulator } from '../../../../harness/fixtures';
import { waitingExecution } from '../../../../harness/waiting';
import {
	binaryItem,
	expandWorkflow,
	EXPAND_NODE,
	simulatorCredentials,
} from '../../../../harness/workflows';

/** Kling's queries show an end 700 ms after its callback reported it; the second task ends last, well after the first. */
const simulator = useSimulator({
	taskDurationMs: (task) => (task.createBody.prompt === 'last' ? 2500 : 300),
	queryLagMs: 700,
});

describe('Submit and Wait, callback mode, when Kling queries lag its callbacks', () => {
	it('the last task still resumes the batch: its callback asks again while Kling still shows its own task running', async () => {
		const sim = simulator();
		const workflow = expandWorkflow({
			operation: 'submitAndWait',
			waitMode: 'callback',
			imageSource: 'binary',
			expansionMode: 'ratios',
			upExpansionRatio: 0.5,
			downExpansionRatio: 0,
			leftExpansionRatio: 0,
			rightExpansionRatio: 0,
			prompt: '={{ $json.index === 1 ? "last" : "first" }}',
			downloadImages: false,
			options: { ...FAST_WAIT, timeout: 60 },
		} as never);
		const execution = await waitingExecution(workflow, EXPAND_NODE, simulatorCredentials(sim.url));
		const input = await Promise.all(
			[0, 1].map(async (index) => ({ ...binaryItem(await testImage()), json: { index } })),
		);
		await execution.start(input);
		const resumed = await execution.resumedRun();
		expect(resumed?.error).toBeUndefined();
		expect(resumed!.output(EXPAND_NODE).map((item) => item.json.task_status)).toEqual([
			'succeed',
			'succeed',
		]);
		expect(execution.deliveries.filter((delivery) => delivery.resumed)).toHaveLength(1);
		await execution.close();
	});
});
