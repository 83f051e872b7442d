import { QUERY_LAG } from '../../../../../nodes/KlingExpand/actions/submitAndWait/batchCheck';
import { FAST_WAIT, requestsOf, testImage, useSimulator } from '../../../../harness/fixtures';
import { waitingExecution } from '../../../../harness/waiting';
import {
	binaryItem,
	EXPAND_NODE,
	expandWorkflow,
	simulatorCredentials,
	UP_RATIOS,
} from '../../../../harness/workflows';

/**
 * Kling's queries show an end `queryLagMs` after its callback reported it. Tasks prompted "last"
 * end well after the others; "task <n>" takes 1 s plus n × 100 ms, so a batch's ends come close
 * together.
 */
const taskDurationMs = (task: { createBody: Record<string, unknown> }) => {
	const prompt = String(task.createBody.prompt);
	if (prompt === 'last') return 2500;
	if (prompt.startsWith('task ')) return 1000 + 100 * Number(prompt.slice(5));
	return 300;
};
const simulator = useSimulator({ taskDurationMs, queryLagMs: 700 });
/** The case: queries lag callbacks by 2 s. */
const laggingSimulator = useSimulator({ taskDurationMs, queryLagMs: 2000 });

const callbackWorkflow = (prompt: string, downloadImages = false) =>
	expandWorkflow({
		operation: 'submitAndWait',
		waitMode: 'callback',
		imageSource: 'binary',
		...UP_RATIOS,
		prompt,
		downloadImages,
		options: { ...FAST_WAIT, timeout: 60 },
	} as never);

async function startBatch(
	sim: ReturnType<typeof simulator>,
	prompt: string,
	count: number,
	downloadImages = false,
) {
	const execution = await waitingExecution(
		callbackWorkflow(prompt, downloadImages),
		EXPAND_NODE,
		simulatorCredentials(sim.url),
	);
	const input = await Promise.all(
		Array.from({ length: count }, async (_, index) => ({
			...binaryItem(await testImage()),
			json: { index },
		})),
	);
	await execution.start(input);
	return { sim, execution };
}

describe('Submit and Wait, callback mode, when Kling queries lag its callbacks', () => {
	it('the last task still resumes the batch: its callback asks again while Kling still shows its own task running', async () => {
		const { execution } = await startBatch(
			simulator(),
			'={{ $json.index === 1 ? "last" : "first" }}',
			2,
		);
		const resumed = await execution.resumedRun();
		expect(resumed?.error).toBeUndefined();
		expect(resumed!.output(EXPAND_NODE).map((item) => item.json.task_status)).toEqual([
			'succeed',
			'succeed',
		]);
		expect(execution.deliveries.filter((delivery) => delivery.resumed)).toHaveLength(1);
		await execution.close();
	});

	it('resumes within 5 s of the last task’s end when the tasks end close together and queries lag 2 s, at a bounded request cost', async () => {
		const sim = laggingSimulator();
		const { execution } = await startBatch(sim, '={{ "task " + $json.index }}', 3, true);
		const resumed = await execution.resumedRun(20_000);
		expect(resumed?.error).toBeUndefined();
		expect(resumed!.output(EXPAND_NODE).map((item) => item.json.task_status)).toEqual([
			'succeed',
			'succeed',
			'succeed',
		]);
		// Measured on the simulator's own clock: when the last task ended, and when the resumed run
		// fetched the first result image.
		const lastEnd = Math.max(...[...sim.tasks.values()].map((task) => task.completedAt!));
		const firstDownload = Math.min(
			...sim.requests
				.filter((request) => request.path.startsWith('/results/'))
				.map((request) => request.at),
		);
		expect(firstDownload - lastEnd).toBeLessThanOrEqual(5000);
		// What waiting out the lag costs: one probe per terminal callback, plus the re-reads.
		const reads = requestsOf(sim, 'query').length + requestsOf(sim, 'list').length;
		expect(reads).toBeLessThanOrEqual(3 * 2 + QUERY_LAG.rechecks + 2);
		expect(execution.deliveries.filter((delivery) => delivery.resumed)).toHaveLength(1);
		await execution.close();
	});
});
