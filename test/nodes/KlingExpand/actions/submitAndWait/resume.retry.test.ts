import { capturedLogs, runWorkflow } from '../../../../harness/engine';
import { FAST_WAIT, requestsOf, testImage, useSimulator } from '../../../../harness/fixtures';
import { retryData, waitingExecution } from '../../../../harness/waiting';
import {
	binaryItem,
	EXPAND_NODE,
	expandWorkflow,
	simulatorCredentials,
	UP_RATIOS,
} from '../../../../harness/workflows';

const simulator = useSimulator({ taskDurationMs: 400 });

/** Two at a time: items 1 and 2 form the last wave and carry the resume URL; item 0 does not. */
const workflowWith = (options: object = {}) =>
	expandWorkflow({
		operation: 'submitAndWait',
		waitMode: 'callback',
		imageSource: 'binary',
		...UP_RATIOS,
		downloadImages: false,
		options: { ...FAST_WAIT, concurrency: 2, timeout: 60, ...options },
	} as never);
const workflow = workflowWith();

/** Three items with three different images: three different inputs. */
const threeItems = async () =>
	await Promise.all(
		[0, 1, 2].map(async (index) => ({
			...binaryItem(await testImage(400 + 20 * index, 300)),
			json: { index },
		})),
	);

describe("Submit and Wait, callback mode, under n8n's Retry", () => {
	it('bills no item twice: a Retry of the failed execution takes the tasks it had created and creates only for the item Kling refused', async () => {
		const sim = simulator();
		const credentials = simulatorCredentials(sim.url);
		const input = await threeItems();
		const first = await waitingExecution(workflow, EXPAND_NODE, credentials);
		const failing = first.start(input);
		// Items 0 and 1 are accepted; item 2 waits for a slot, and its create is then refused (the
		// account ran out of credit): the node fails, and so does the execution.
		while (sim.acceptedCreates() < 2) await new Promise((resolve) => setTimeout(resolve, 5));
		sim.injectFault({ on: 'create', kind: 'code', code: 1102 });
		const failed = await failing;
		expect(failed.run.status).toBe('error');
		expect(failed.error?.message).toMatch(/1102|balance|credit/i);
		const firstTasks = [...sim.tasks.values()];
		expect(firstTasks).toHaveLength(2);

		capturedLogs.length = 0;
		const retry = await waitingExecution(workflow, EXPAND_NODE, credentials);
		const started = await retry.start([], retryData(failed.run.data));
		expect(started.error).toBeUndefined();
		const resumed = started.run.status === 'waiting' ? await retry.resumedRun() : started;
		expect(resumed?.error).toBeUndefined();
		const output = resumed!.output(EXPAND_NODE);
		expect(output.map((item) => [item.json.task_status, item.json.wait_status])).toEqual([
			['succeed', 'completed'],
			['succeed', 'completed'],
			['succeed', 'completed'],
		]);
		// What the Retry billed: item 2 only. Items 0 and 1 are the tasks the failed execution made.
		expect(output.slice(0, 2).map((item) => item.json.task_id)).toEqual(
			firstTasks.map((task) => task.task_id),
		);
		expect(sim.acceptedCreates()).toBe(3);
		expect(capturedLogs.filter((line) => line.includes('reusing task'))).toHaveLength(2);
		// Item 2's task calls back to the retry's URL, its ids still naming the failed execution.
		const retried = requestsOf(sim, 'create').at(-1)!.body as {
			callback_url: string;
			external_task_id: string;
		};
		const url = new URL(retried.callback_url);
		expect(url.pathname).toContain(`/${retry.executionId}/`);
		expect(url.searchParams.get('kling_origin')).toBe(first.executionId);
		expect(retried.external_task_id).toMatch(new RegExp(`^n8n-${first.executionId}-`));
		await first.close();
		await retry.close();
	});

	it('after a crash mid-batch, a new run with Reuse Task for Same Input on bills only the items not yet created', async () => {
		const sim = simulator();
		const credentials = simulatorCredentials(sim.url);
		const reusing = workflowWith({ reuseWithinHours: 1 });
		// The crash: the run stops once Kling accepted two creates, and nothing of it is kept (n8n saves
		// an execution's data only when a node finishes, so a Retry starts the node afresh).
		const crash = new AbortController();
		const crashing = runWorkflow(reusing, {
			startNode: EXPAND_NODE,
			input: await threeItems(),
			credentials,
			webhookWaitingBaseUrl: 'http://127.0.0.1:9/webhook-waiting',
			signal: crash.signal,
		});
		while (sim.acceptedCreates() < 2) await new Promise((resolve) => setTimeout(resolve, 5));
		crash.abort();
		await crashing;
		const crashed = [...sim.tasks.values()];
		expect(crashed).toHaveLength(2);

		const again = await waitingExecution(reusing, EXPAND_NODE, credentials);
		const started = await again.start(await threeItems());
		expect(started.error).toBeUndefined();
		const resumed = started.run.status === 'waiting' ? await again.resumedRun() : started;
		expect(resumed?.error).toBeUndefined();
		const output = resumed!.output(EXPAND_NODE);
		expect(output.map((item) => item.json.task_status)).toEqual(['succeed', 'succeed', 'succeed']);
		// Billed: the crashed run's two tasks, taken again for their items, and one new task.
		expect(output.slice(0, 2).map((item) => item.json.task_id)).toEqual(
			crashed.map((task) => task.task_id),
		);
		expect(sim.acceptedCreates()).toBe(3);
		await again.close();
	});
});
