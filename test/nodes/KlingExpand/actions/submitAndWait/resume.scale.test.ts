import { FAST_WAIT, requestsOf, testImage, useSimulator } from '../../../../harness/fixtures';
import { waitingExecution } from '../../../../harness/waiting';
import type { Fault } from '../../../../simulator';
import {
	binaryItem,
	EXPAND_NODE,
	expandWorkflow,
	simulatorCredentials,
	UP_DOWN_RATIOS,
} from '../../../../harness/workflows';

/** An account with 10 slots (1303 above them), tasks long enough that the last wave is still running when the execution goes to sleep. */
const ACCOUNT_LIMIT = 10;
const simulator = useSimulator({ concurrencyLimit: ACCOUNT_LIMIT, taskDurationMs: 600 });
async function callbackBatch(
	count: number,
	options: { concurrency: number; downloadImages: boolean; pollInterval?: number; fault?: Fault },
) {
	const sim = simulator();
	if (options.fault) sim.injectFault(options.fault);
	const workflow = expandWorkflow({
		operation: 'submitAndWait',
		waitMode: 'callback',
		imageSource: 'binary',
		...UP_DOWN_RATIOS,
		prompt: '={{ "item " + $json.index }}',
		downloadImages: options.downloadImages,
		options: {
			...FAST_WAIT,
			...(options.pollInterval ? { pollInterval: options.pollInterval, maxPollInterval: 1 } : {}),
			concurrency: options.concurrency,
			timeout: 120,
		},
	} as never);
	const execution = await waitingExecution(workflow, EXPAND_NODE, simulatorCredentials(sim.url));
	const image = await testImage(320, 320);
	const started = await execution.start(
		Array.from({ length: count }, (_, index) => ({ ...binaryItem(image), json: { index } })),
	);
	return { sim, execution, started };
}

/** Requests by kind the simulator received; downloads are GETs of result images. */
function costOf(sim: ReturnType<typeof simulator>) {
	return {
		creates: requestsOf(sim, 'create').length,
		queries: requestsOf(sim, 'query').length,
		lists: requestsOf(sim, 'list').length,
		downloads: sim.requests.filter((request) => request.path.startsWith('/results/')).length,
	};
}

describe('Submit and Wait, callback mode, more items than slots', () => {
	it.each([5, 10])(
		'200 items on an account limit of 10 with Concurrency %i: 200 outputs in input order, exactly 200 accepted creates',
		async (concurrency) => {
			const { sim, execution, started } = await callbackBatch(200, {
				concurrency,
				downloadImages: false,
			});
			expect(started.error).toBeUndefined();
			expect(started.run.status).toBe('waiting');
			// Every item was submitted before the execution slept, each once, none refused.
			expect(sim.acceptedCreates()).toBe(200);
			expect(costOf(sim).creates).toBe(200);
			expect(sim.stats().rejected1303).toBe(0);
			expect(sim.stats().peakSlots).toBeLessThanOrEqual(concurrency);

			const resumed = await execution.resumedRun(30_000);
			expect(resumed?.run.status).toBe('success');
			const output = resumed!.output(EXPAND_NODE);
			expect(output).toHaveLength(200);
			expect(
				output.map((item) => sim.tasks.get(String(item.json.task_id))?.createBody.prompt),
			).toEqual(Array.from({ length: 200 }, (_, index) => `item ${index}`));
			expect(output.map((item) => item.pairedItem)).toEqual(
				Array.from({ length: 200 }, (_, item) => ({ item })),
			);
			expect(
				output.every(
					(item) => item.json.task_status === 'succeed' && item.json.wait_status === 'completed',
				),
			).toBe(true);
			expect(execution.deliveries.filter((delivery) => delivery.resumed)).toHaveLength(1);
			await execution.close();
		},
		120_000,
	);

	it.each([
		[0, 10],
		[600, 11],
	])(
		'a batch within the slots costs one query or list per terminal callback, plus one page when %i newer tasks push it off the first (%i in all)',
		async (unrelated, probes) => {
			const count = 10;
			const { sim, execution, started } = await callbackBatch(count, {
				concurrency: ACCOUNT_LIMIT,
				downloadImages: true,
			});
			expect(started.run.status).toBe('waiting');
			sim.seedUnrelatedTasks(unrelated);
			const resumed = await execution.resumedRun(30_000);
			expect(resumed!.output(EXPAND_NODE)).toHaveLength(count);
			const cost = costOf(sim);
			expect(cost).toMatchObject({ creates: count, downloads: count });
			// Each non-final callback finds a task still running with one request; the callback of the
			// batch's newest task, the last to end, reads the list at once instead of asking a task first.
			expect(cost.queries + cost.lists).toBeLessThanOrEqual(probes);
			await execution.close();
		},
		60_000,
	);

	it('orders the batch by when Kling created each task, not by item index', async () => {
		const count = 10;
		// The first create to arrive is refused once and sent again after a backoff: that item's task
		// is the newest, so it ends last, though it is not the last item.
		const { sim, execution, started } = await callbackBatch(count, {
			concurrency: ACCOUNT_LIMIT,
			downloadImages: true,
			fault: { on: 'create', kind: 'code', code: 5000 },
		});
		expect(started.run.status).toBe('waiting');
		const submitted = costOf(sim);
		sim.seedUnrelatedTasks(600);
		const resumed = await execution.resumedRun(30_000);
		const output = resumed!.output(EXPAND_NODE);
		expect(output).toHaveLength(count);
		const createdAt = output.map((item) => Number(item.json.created_at));
		const newest = createdAt.indexOf(Math.max(...createdAt));
		expect(newest).not.toBe(count - 1);
		const cost = costOf(sim);
		// As in the batch above (11): going by item index, the last item's callback reads two pages
		// before the task still running, and the newest task's callback asks once more (13).
		expect(cost.queries + cost.lists - submitted.queries - submitted.lists).toBeLessThanOrEqual(11);
		await execution.close();
	}, 60_000);

	it.each([0, 600])(
		'costs at most one query or list per task on top of its create and download, each image downloaded once, with %i unrelated newer tasks on the account',
		async (unrelated) => {
			const count = 60;
			const { sim, execution, started } = await callbackBatch(count, {
				concurrency: ACCOUNT_LIMIT,
				downloadImages: true,
				pollInterval: 0.1,
			});
			expect(started.run.status).toBe('waiting');
			// Other workflows' tasks, newer than the whole batch: the batch is no longer on the first list page.
			sim.seedUnrelatedTasks(unrelated);
			const resumed = await execution.resumedRun(30_000);
			const output = resumed!.output(EXPAND_NODE);
			expect(output).toHaveLength(count);
			expect(output.every((item) => item.binary?.data?.mimeType === 'image/png')).toBe(true);
			const cost = costOf(sim);
			expect(cost).toMatchObject({ creates: count, downloads: count });
			// The slot checks while items waited plus every callback's probing (`npm run bench` prints the figures).
			expect(cost.queries + cost.lists).toBeLessThanOrEqual(count);
			// Late terminal callbacks (duplicates included) after the resume reach a finished execution: nothing more is asked.
			await execution.close();
			expect(costOf(sim)).toEqual(cost);
		},
		60_000,
	);
});
