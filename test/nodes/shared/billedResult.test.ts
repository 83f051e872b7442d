import { billedResultError } from '../../../nodes/shared/billedResult';
import { normaliseTask } from '../../../nodes/shared/task';
import { KlingFailure } from '../../../nodes/shared/transport/failure';
import { withRetries } from '../../../nodes/shared/transport/retry';
import { runWorkflow } from '../../harness/engine';
import { FAST_WAIT, requestsOf, testImage, useSimulator } from '../../harness/fixtures';
import { waitingExecution } from '../../harness/waiting';
import {
	binaryItem,
	EXPAND_NODE,
	expandWorkflow,
	simulatorCredentials,
	UP_DOWN_RATIOS,
} from '../../harness/workflows';

/*
 * A succeeded task is billed: it ends in its images, or in an error that says it was billed and
 * names it. Submit and Wait (both wait modes) and Get Task with Download Images.
 */

const simulator = useSimulator({ taskDurationMs: 150 });
async function submitAndWait(options: object = {}) {
	const sim = simulator();
	return await runWorkflow(
		expandWorkflow({
			operation: 'submitAndWait',
			imageSource: 'binary',
			...UP_DOWN_RATIOS,
			options: { ...FAST_WAIT, timeout: 20, ...options },
		} as never),
		{
			startNode: EXPAND_NODE,
			input: [binaryItem(await testImage())],
			credentials: simulatorCredentials(sim.url),
		},
	);
}

/** A task submitted (and billed), then read back with Get Task and Download Images on. */
async function getTaskAfterSubmit() {
	const sim = simulator();
	const credentials = simulatorCredentials(sim.url);
	const submitted = await runWorkflow(
		expandWorkflow({ operation: 'submit', imageSource: 'binary', ...UP_DOWN_RATIOS } as never),
		{ startNode: EXPAND_NODE, input: [binaryItem(await testImage())], credentials },
	);
	const taskId = submitted.output(EXPAND_NODE)[0].json.task_id as string;
	await new Promise((resolve) => setTimeout(resolve, 400));
	const result = await runWorkflow(
		expandWorkflow({
			operation: 'getTask',
			taskId,
			downloadImages: true,
			options: { retryDelay: 0.02, requestTimeout: 2 },
		} as never),
		{ startNode: EXPAND_NODE, input: [{ json: {} }], credentials },
	);
	return { taskId, result };
}

const onlyTaskId = (sim: ReturnType<typeof simulator>) => [...sim.tasks.keys()][0];

describe('a task that answers succeed before its images are listed', () => {
	it('Submit and Wait reads it again and outputs the image once Kling lists it', async () => {
		const sim = simulator();
		sim.setModes({ imageListLagMs: 300 });
		const result = await submitAndWait();
		expect(result.error).toBeUndefined();
		const [item] = result.output(EXPAND_NODE);
		expect(item.binary?.data.mimeType).toBe('image/png');
		expect(item.json.task_result).toEqual({ images: [expect.objectContaining({ index: 0 })] });
		expect(sim.acceptedCreates()).toBe(1);
	});

	it('Submit and Wait ends with an error naming the billed task when the images never come', async () => {
		const sim = simulator();
		sim.setModes({ imageListLagMs: Infinity });
		const result = await submitAndWait();
		const taskId = onlyTaskId(sim);
		expect(result.error).toMatchObject({
			message: expect.stringMatching(
				new RegExp(
					`^Kling task ${taskId} succeeded and was billed, but lists no result images \\(read ` +
						'again 5 times over [\\d.]+ s\\)$',
				),
			),
			description: expect.stringContaining(`Get Task (task_id ${taskId}, Download Images on)`),
		});
		// The read that saw it end, then the five reads again.
		const completedAt = sim.tasks.get(taskId)!.completedAt!;
		expect(requestsOf(sim, 'query').filter((query) => query.at >= completedAt)).toHaveLength(6);
		expect(sim.acceptedCreates()).toBe(1);
	});

	it('Submit and Wait under Continue On Fail gives the error item with the task_id', async () => {
		const sim = simulator();
		sim.setModes({ imageListLagMs: Infinity });
		const result = await runWorkflow(
			expandWorkflow(
				{
					operation: 'submitAndWait',
					imageSource: 'binary',
					...UP_DOWN_RATIOS,
					options: { ...FAST_WAIT, timeout: 20 },
				} as never,
				{ onError: 'continueRegularOutput' },
			),
			{
				startNode: EXPAND_NODE,
				input: [binaryItem(await testImage())],
				credentials: simulatorCredentials(sim.url),
			},
		);
		expect(result.output(EXPAND_NODE)[0].json).toMatchObject({
			task_id: onlyTaskId(sim),
			error: expect.stringContaining('succeeded and was billed'),
		});
	});

	it('Get Task with Download Images ends with the same error', async () => {
		const sim = simulator();
		sim.setModes({ imageListLagMs: Infinity });
		const { taskId, result } = await getTaskAfterSubmit();
		expect(result.error?.message).toMatch(
			new RegExp(`^Kling task ${taskId} succeeded and was billed, but lists no result images`),
		);
	});

	it('callback mode reads it again after the resume and outputs the image', async () => {
		const sim = simulator();
		// The resume reads with the webhook's own patience (a 1 s Retry Delay): listed after 1.5 s.
		sim.setModes({ imageListLagMs: 1500 });
		const workflow = expandWorkflow({
			operation: 'submitAndWait',
			waitMode: 'callback',
			imageSource: 'binary',
			...UP_DOWN_RATIOS,
			options: { ...FAST_WAIT, timeout: 60 },
		} as never);
		const execution = await waitingExecution(workflow, EXPAND_NODE, simulatorCredentials(sim.url));
		const started = await execution.start([binaryItem(await testImage())]);
		expect(started.error).toBeUndefined();
		const resumed = await execution.resumedRun(20_000);
		expect(resumed?.error).toBeUndefined();
		const [item] = resumed!.output(EXPAND_NODE);
		expect(item.json.error).toBeUndefined();
		expect(item.binary?.data.mimeType).toBe('image/png');
		await execution.close();
	}, 30_000);
});

describe('an expired result URL', () => {
	it.each([404, 403])(
		'HTTP %i: the error says the task succeeded and was billed, names it, and that Kling keeps results 30 days',
		async (httpStatus) => {
			const sim = simulator();
			sim.injectFault({ on: 'result', kind: 'code', code: 1203, httpStatus, times: 20 });
			const result = await submitAndWait();
			const taskId = onlyTaskId(sim);
			expect(result.error).toMatchObject({
				message: expect.stringMatching(
					new RegExp(
						`^Kling task ${taskId} succeeded and was billed, but its result image is gone: ` +
							`Downloading http://127\\.0\\.0\\.1:\\d+/results/${taskId}/0\\.png answered HTTP ` +
							`${httpStatus}\\. Kling deletes result images 30 days after the task$`,
					),
				),
				description: expect.stringContaining(`Get Task (task_id ${taskId})`),
			});
			// Nothing retried a URL that is gone, and nothing was created again.
			expect(sim.requests.filter((request) => request.path.startsWith('/results/'))).toHaveLength(
				1,
			);
			expect(sim.acceptedCreates()).toBe(1);
		},
	);

	it('Get Task with Download Images says the same', async () => {
		const sim = simulator();
		sim.injectFault({ on: 'result', kind: 'code', code: 1203, httpStatus: 404 });
		const { taskId, result } = await getTaskAfterSubmit();
		expect(result.error?.message).toMatch(
			new RegExp(`^Kling task ${taskId} succeeded and was billed, but its result image is gone`),
		);
		expect(result.error?.message).toMatch(/Kling deletes result images 30 days after the task$/);
	});
});

describe('downloads count against the Timeout', () => {
	it('a trickling result server cannot keep Submit and Wait past its Timeout plus one Request Timeout', async () => {
		const sim = simulator();
		sim.injectFault({ on: 'result', kind: 'trickle', bytesPerSecond: 20, times: 50 });
		const settings = { timeout: 3, requestTimeout: 1 };
		const result = await submitAndWait(settings);
		const taskId = onlyTaskId(sim);
		expect(result.error).toMatchObject({
			message: expect.stringMatching(
				new RegExp(
					`^Kling task ${taskId} succeeded and was billed, but its images could not be ` +
						"downloaded: .* \\(the node's Timeout has passed, so it was not tried again\\)$",
				),
			),
		});
		// The simulator's record: every try started before the Timeout ran out (counted from the
		// create, which starts it later still), and the last one was cut within one Request Timeout.
		// The server sees a connection close a moment after the node cut it.
		const deadline = Date.now() + 5000;
		while (sim.trickles.some((trickle) => trickle.closedAt === undefined) && Date.now() < deadline)
			await new Promise((resolve) => setTimeout(resolve, 20));
		const createdAt = sim.tasks.get(taskId)!.created_at;
		const timeoutEnd = createdAt + settings.timeout * 1000;
		expect(sim.trickles.length).toBeGreaterThan(1);
		for (const trickle of sim.trickles) expect(trickle.startedAt).toBeLessThan(timeoutEnd + 250);
		const lastClosed = Math.max(...sim.trickles.map((trickle) => trickle.closedAt ?? Infinity));
		// Generous: one Request Timeout plus a second for a shared, busy machine.
		expect(lastClosed).toBeLessThan(timeoutEnd + settings.requestTimeout * 1000 + 1000);
		expect(sim.acceptedCreates()).toBe(1);
	}, 60_000);
});

describe('callback mode: downloads count against the Timeout', () => {
	it('a trickling result server cannot keep the resumed run past the wait Timeout plus one Request Timeout', async () => {
		const sim = simulator();
		sim.injectFault({ on: 'result', kind: 'trickle', bytesPerSecond: 20, times: 50 });
		const settings = { timeout: 3, requestTimeout: 1 };
		const workflow = expandWorkflow({
			operation: 'submitAndWait',
			waitMode: 'callback',
			imageSource: 'binary',
			...UP_DOWN_RATIOS,
			options: { ...FAST_WAIT, ...settings },
		} as never);
		const execution = await waitingExecution(workflow, EXPAND_NODE, simulatorCredentials(sim.url));
		const started = await execution.start([binaryItem(await testImage())]);
		expect(started.error).toBeUndefined();
		// The wait's deadline, as finish() wrote it on the waiting item: when the batch slept plus the
		// Timeout.
		const waitDeadline = started.output(EXPAND_NODE)[0].json.wait_deadline as number;
		const sleptAt = Date.now();
		expect(waitDeadline).toBeGreaterThan(sleptAt);
		expect(waitDeadline).toBeLessThanOrEqual(sleptAt + settings.timeout * 1000);
		// Ends a Request Timeout after the deadline; without the deadline the downloads' retries take
		// over a minute.
		const resumed = await execution.resumedRun(20_000);
		expect(resumed).toBeDefined();
		expect(resumed?.error).toBeUndefined();
		const taskId = onlyTaskId(sim);
		const [item] = resumed!.output(EXPAND_NODE);
		expect(item.json).toMatchObject({
			wait_status: 'completed',
			task_id: taskId,
			error: expect.stringMatching(
				new RegExp(
					`^Kling task ${taskId} succeeded and was billed, but its images could not be ` +
						"downloaded: .* \\(the node's Timeout has passed, so it was not tried again\\)$",
				),
			),
		});
		// The simulator's record: no try started after the wait's deadline, and the last was cut
		// within one Request Timeout (plus a second for a shared, busy machine).
		const deadline = Date.now() + 5000;
		while (sim.trickles.some((trickle) => trickle.closedAt === undefined) && Date.now() < deadline)
			await new Promise((resolve) => setTimeout(resolve, 20));
		expect(sim.trickles.length).toBeGreaterThan(1);
		for (const trickle of sim.trickles) expect(trickle.startedAt).toBeLessThan(waitDeadline + 250);
		const lastClosed = Math.max(...sim.trickles.map((trickle) => trickle.closedAt ?? Infinity));
		expect(lastClosed).toBeLessThan(waitDeadline + settings.requestTimeout * 1000 + 1000);
		expect(sim.acceptedCreates()).toBe(1);
		await execution.close();
	}, 60_000);
});

describe('the error when the retries stop for the deadline', () => {
	it('says the Timeout stopped them even while the deadline is still a retry delay away', async () => {
		// The next try would start after the deadline (a retry delay of at least 500 s; the deadline
		// a minute away): withRetries stops now, before the deadline has passed.
		const policy = {
			attempts: 8,
			retryDelayMs: 1_000_000,
			timeoutMs: 1000,
			deadlineAt: Date.now() + 60_000,
		};
		let tries = 0;
		const stopped = await withRetries(async () => {
			tries++;
			throw new KlingFailure('network', 'the download did not complete');
		}, policy).catch((error: unknown) => error);
		expect(tries).toBe(1);
		const task = normaliseTask({ task_id: 't-1', task_status: 'succeed' })!;
		expect((billedResultError(task, stopped, policy) as Error).message).toBe(
			'Kling task t-1 succeeded and was billed, but its images could not be downloaded: the ' +
				"download did not complete (the node's Timeout has passed, so it was not tried again)",
		);
	});
});
