import type { RunResult } from '../../../harness/engine';
import { capturedLogs, runWorkflow } from '../../../harness/engine';
import { FAST_WAIT, testImage, useSimulator } from '../../../harness/fixtures';
import { retryData } from '../../../harness/waiting';
import {
	binaryItem,
	expandWorkflow,
	EXPAND_NODE,
	simulatorCredentials,
} from '../../../harness/workflows';

/**
 * What a user can recover after a failed or crashed execution, and what each way of running it
 * again bills.
 */
const simulator = useSimulator({ taskDurationMs: 200 });

const REFUSED_PROMPT = 'refuse me';

const workflow = (operation: 'submit' | 'submitAndWait') =>
	expandWorkflow({
		operation,
		imageSource: 'binary',
		expansionMode: 'ratios',
		upExpansionRatio: 0.5,
		downExpansionRatio: 0,
		leftExpansionRatio: 0.25,
		rightExpansionRatio: 0.25,
		downloadImages: false,
		prompt: `={{ $json.index === 2 ? "${REFUSED_PROMPT}" : "" }}`,
		// One item at a time: items 0 and 1 are accepted before item 2 fails.
		options: { ...FAST_WAIT, concurrency: 1 },
	} as never);

const threeItems = async () =>
	await Promise.all(
		[0, 1, 2].map(async (index) => ({ ...binaryItem(await testImage()), json: { index } })),
	);

/** n8n's Retry of a failed execution: a new execution, in mode 'retry', continuing the failed one. */
async function retryLikeN8n(
	failed: RunResult,
	spec: ReturnType<typeof workflow>,
	credentials: ReturnType<typeof simulatorCredentials>,
): Promise<RunResult> {
	return await runWorkflow(spec, {
		startNode: EXPAND_NODE,
		input: [],
		credentials,
		resume: retryData(failed.run.data),
		mode: 'retry',
	});
}

const acceptedLines = () => capturedLogs.filter((line) => line.includes('Kling accepted task'));

describe('crash-safe creates', () => {
	it('logs each accepted task at info level the moment Kling accepts it, naming execution, node, item, external id and task id', async () => {
		const sim = simulator();
		sim.failTasksWith('refused (simulated)', (body) => body.prompt === REFUSED_PROMPT);
		capturedLogs.length = 0;
		const result = await runWorkflow(workflow('submit'), {
			startNode: EXPAND_NODE,
			input: await threeItems(),
			credentials: simulatorCredentials(sim.url),
			executionId: '9001',
		});
		expect(result.error).toBeUndefined();
		const lines = acceptedLines();
		expect(lines).toHaveLength(3);
		for (const task of sim.tasks.values()) {
			const itemIndex = Number(/-(\d+)$/.exec(task.task_info.external_task_id)![1]);
			const line = lines.find((each) => each.includes(task.task_id));
			expect(line).toMatch(/^info /);
			expect(line).toContain(
				`Kling accepted task ${task.task_id} (external_task_id ${task.task_info.external_task_id}) for item ${itemIndex} of node "${EXPAND_NODE}" in execution 9001`,
			);
			expect(line).toContain(`"taskId":"${task.task_id}"`);
		}
	});

	it('after a crash mid-batch, the log names every accepted task, List Tasks finds them by the execution’s external-id prefix, and Get Task fetches their images without creating again', async () => {
		const sim = simulator();
		const credentials = simulatorCredentials(sim.url);
		capturedLogs.length = 0;
		// The crash: the run stops after its second create, and nothing of it is kept (n8n saves an
		// execution's data only when a node finishes).
		const crash = new AbortController();
		const running = runWorkflow(workflow('submitAndWait'), {
			startNode: EXPAND_NODE,
			input: await threeItems(),
			credentials,
			executionId: '4242',
			signal: crash.signal,
		});
		while (sim.acceptedCreates() < 2) await new Promise((resolve) => setTimeout(resolve, 5));
		crash.abort();
		await running;
		const billed = [...sim.tasks.values()];
		expect(billed).toHaveLength(2);
		// The crash may come between Kling accepting a create and its answer reaching n8n: the line
		// written before sending names its external id, the one after also its task id.
		for (const task of billed) {
			const externalId = task.task_info.external_task_id;
			expect(
				capturedLogs.some(
					(line) =>
						line.startsWith('info ') &&
						line.includes(`sending a create under external_task_id ${externalId}`) &&
						line.includes('in execution 4242'),
				),
			).toBe(true);
		}
		expect(acceptedLines().length).toBeGreaterThanOrEqual(1);
		for (const line of acceptedLines())
			expect(billed.some((task) => line.includes(task.task_id))).toBe(true);

		// Another execution's task is not one of them.
		await runWorkflow(workflow('submit'), {
			startNode: EXPAND_NODE,
			input: [{ ...binaryItem(await testImage()), json: { index: 0 } }],
			credentials,
			executionId: '42420',
		});
		const listed = await runWorkflow(
			expandWorkflow({
				operation: 'listTasks',
				returnAll: true,
				options: { externalTaskIdPrefix: 'n8n-4242-' },
			} as never),
			{ startNode: EXPAND_NODE, input: [{ json: {} }], credentials },
		);
		const found = listed.output(EXPAND_NODE);
		expect(found.map((item) => item.json.task_id).sort()).toEqual(
			billed.map((task) => task.task_id).sort(),
		);

		await new Promise((resolve) => setTimeout(resolve, 400));
		const fetched = await runWorkflow(
			expandWorkflow({
				operation: 'getTask',
				taskId: '={{ $json.task_id }}',
				downloadImages: true,
			} as never),
			{ startNode: EXPAND_NODE, input: found, credentials },
		);
		const results = fetched.output(EXPAND_NODE);
		expect(results.map((item) => item.json.task_status)).toEqual(['succeed', 'succeed']);
		expect(results.every((item) => item.binary?.data?.mimeType === 'image/png')).toBe(true);
		expect(sim.acceptedCreates()).toBe(3);
	});

	it('List Tasks refuses an External Task ID Starts With that is not text, naming the field', async () => {
		const sim = simulator();
		const listed = await runWorkflow(
			expandWorkflow({
				operation: 'listTasks',
				returnAll: true,
				options: { externalTaskIdPrefix: '={{ { a: 1 } }}' },
			} as never),
			{ startNode: EXPAND_NODE, input: [{ json: {} }], credentials: simulatorCredentials(sim.url) },
		);
		expect(listed.error?.message).toBe('External Task ID Starts With is {"a":1}; it must be text');
		expect(sim.requests).toHaveLength(0);
	});

	it("n8n's Retry of a failed Submit and Wait execution bills no item an earlier attempt had accepted: it takes those tasks, and creates only for the item whose task failed", async () => {
		const sim = simulator();
		sim.failTasksWith('refused (simulated)', (body) => body.prompt === REFUSED_PROMPT);
		const credentials = simulatorCredentials(sim.url);
		const spec = workflow('submitAndWait');
		const failed = await runWorkflow(spec, {
			startNode: EXPAND_NODE,
			input: await threeItems(),
			credentials,
		});
		expect(failed.error?.message).toMatch(/failed/);
		expect(sim.acceptedCreates()).toBe(3);
		const firstTasks = [...sim.tasks.values()];

		sim.failTasksWith(null);
		capturedLogs.length = 0;
		const retried = await retryLikeN8n(failed, spec, credentials);
		expect(retried.error).toBeUndefined();
		const output = retried.output(EXPAND_NODE);
		expect(output.map((item) => item.json.task_status)).toEqual(['succeed', 'succeed', 'succeed']);
		// Items 0 and 1: the tasks the failed execution created; item 2: one new task, its first failed.
		expect(output.slice(0, 2).map((item) => item.json.task_id)).toEqual(
			firstTasks.slice(0, 2).map((task) => task.task_id),
		);
		expect(sim.acceptedCreates()).toBe(4);
		expect(output[2].json.external_task_id).toBe(`${firstTasks[2].task_info.external_task_id}-2`);
		expect(capturedLogs.filter((line) => line.includes('reusing task'))).toHaveLength(2);
	});
});
