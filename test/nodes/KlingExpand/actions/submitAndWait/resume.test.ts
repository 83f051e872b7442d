import {
	resumeKey,
	signBatch,
} from '../../../../../nodes/KlingExpand/actions/submitAndWait/resumeUrl';
import { runWorkflow } from '../../../../harness/engine';
import { FAST_WAIT, requestsOf, testImage, useSimulator } from '../../../../harness/fixtures';
import { waitingExecution } from '../../../../harness/waiting';
import { WAIT_NODE_TYPE } from '../../../../harness/waitNode';
import {
	binaryItem,
	expandWorkflow,
	EXPAND_NODE,
	simulatorCredentials,
} from '../../../../harness/workflows';

/** Tasks prompted "slow" stay in progress long enough to let a test decide when they end. */
const simulator = useSimulator({
	taskDurationMs: (task) => (task.createBody.prompt === 'slow' ? 5000 : 600),
});
const ratios = {
	expansionMode: 'ratios',
	upExpansionRatio: 0.5,
	downExpansionRatio: 0,
	leftExpansionRatio: 0.25,
	rightExpansionRatio: 0.25,
};

/** A Submit and Wait workflow in callback mode on a binary image, with these parameters on top. */
const callbackWorkflow = (parameters: object) =>
	expandWorkflow({
		operation: 'submitAndWait',
		waitMode: 'callback',
		imageSource: 'binary',
		...ratios,
		...parameters,
	} as never);

async function callbackRun(count: number, parameters: object = {}) {
	const sim = simulator();
	const workflow = callbackWorkflow({
		...parameters,
		options: { ...FAST_WAIT, timeout: 60 },
	});
	const execution = await waitingExecution(workflow, EXPAND_NODE, simulatorCredentials(sim.url));
	const input = await Promise.all(
		Array.from({ length: count }, async (_, index) => ({
			...binaryItem(await testImage(400 + index * 20, 300)),
			json: { index },
		})),
	);
	const started = await execution.start(input);
	return { sim, execution, started };
}

/** Two executions of one callback-mode workflow, each waiting on one slow task. */
async function twoWaitingExecutions() {
	const sim = simulator();
	const workflow = callbackWorkflow({
		prompt: 'slow',
		downloadImages: false,
		options: { timeout: 60 },
	});
	const first = await waitingExecution(workflow, EXPAND_NODE, simulatorCredentials(sim.url));
	const second = await waitingExecution(workflow, EXPAND_NODE, simulatorCredentials(sim.url));
	await first.start([binaryItem(await testImage())]);
	await second.start([binaryItem(await testImage())]);
	const [firstTask, secondTask] = sim.tasks.values();
	return { sim, first, second, firstTask, secondTask };
}

const statusesOf = (sim: ReturnType<typeof simulator>) =>
	sim.callbackDeliveries.map((delivery) => delivery.body.task_status);

describe('Submit and Wait, callback mode', () => {
	it('submits every item with the resume URL as callback_url and puts the execution to wait', async () => {
		const { sim, execution, started } = await callbackRun(3, { prompt: 'slow' });
		expect(started.error).toBeUndefined();
		expect(started.run.status).toBe('waiting');
		expect(started.run.data.waitTill).toBeInstanceOf(Date);
		const creates = requestsOf(sim, 'create').map(
			(request) => request.body as { callback_url: string; external_task_id: string },
		);
		expect(creates).toHaveLength(3);
		const callback = new URL(creates[0].callback_url);
		expect(callback.pathname).toBe(`/webhook-waiting/${execution.executionId}/expand`);
		expect(callback.searchParams.get('kling_items')).toBe('3');
		expect(creates.map((body) => body.external_task_id).sort()).toEqual(
			[0, 1, 2].map(
				(index) =>
					`n8n-${execution.executionId}-${callback.searchParams.get('kling_batch')}-${index}`,
			),
		);
		await execution.close();
	});

	it('stays asleep through non-terminal callbacks and resumes once the whole batch has ended, outputting every task in input order', async () => {
		const { sim, execution } = await callbackRun(3);
		const resumed = await execution.resumedRun();
		expect(resumed).toBeDefined();
		expect(resumed!.error).toBeUndefined();
		expect(resumed!.run.status).toBe('success');
		const output = resumed!.output(EXPAND_NODE);
		expect(
			output.map((item) => [
				item.json.task_status,
				item.json.wait_status,
				(item.json.image as { width: number }).width,
			]),
		).toEqual([
			['succeed', 'completed', 600],
			['succeed', 'completed', 630],
			['succeed', 'completed', 660],
		]);
		expect(output.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }]);
		expect(output[0].binary!.data.mimeType).toBe('image/png');
		// Kling called back submitted, processing and succeed for each task; only one delivery resumed the run.
		expect(statusesOf(sim).filter((status) => status !== 'succeed').length).toBeGreaterThanOrEqual(
			3,
		);
		const answered = execution.deliveries.filter((delivery) => delivery.status === 200);
		expect(answered.filter((delivery) => delivery.resumed)).toHaveLength(1);
		expect(
			answered
				.filter((delivery) => !delivery.resumed)
				.every((delivery) => (delivery.body as { task_status: string }).task_status !== 'failed'),
		).toBe(true);
		expect(sim.acceptedCreates()).toBe(3);
		await execution.close();
	});

	it('does not resume on the terminal callback of one task while others still run', async () => {
		const sim = simulator();
		const workflow = callbackWorkflow({
			prompt: '={{ $json.index === 0 ? "fast" : "slow" }}',
			downloadImages: false,
			options: { timeout: 60 },
		});
		const execution = await waitingExecution(workflow, EXPAND_NODE, simulatorCredentials(sim.url));
		await execution.start(
			await Promise.all(
				[0, 1].map(async (index) => ({ ...binaryItem(await testImage()), json: { index } })),
			),
		);
		await new Promise((resolve) => setTimeout(resolve, 1500));
		const terminal = execution.deliveries.filter(
			(delivery) => (delivery.body as { task_status: string }).task_status === 'succeed',
		);
		expect(terminal).toHaveLength(1);
		expect(terminal[0]).toMatchObject({ status: 200, resumed: false });
		expect(execution.state).toBe('waiting');
		await execution.close();
	});

	it('turns a failed task into an error item with its reason, keeping the other results', async () => {
		const sim = simulator();
		sim.failTasksWith('Content moderation refused the image', (body) => body.prompt === 'refuse');
		const workflow = callbackWorkflow({
			prompt: '={{ $json.index === 1 ? "refuse" : "" }}',
			downloadImages: false,
			options: { timeout: 60 },
		});
		const execution = await waitingExecution(workflow, EXPAND_NODE, simulatorCredentials(sim.url));
		await execution.start(
			await Promise.all(
				[0, 1, 2].map(async (index) => ({ ...binaryItem(await testImage()), json: { index } })),
			),
		);
		const output = (await execution.resumedRun())!.output(EXPAND_NODE);
		expect(output.map((item) => item.json.task_status)).toEqual(['succeed', 'failed', 'succeed']);
		expect(output[1].json).toMatchObject({
			error: expect.stringMatching(/failed: Content moderation refused the image/),
			task_status_msg: 'Content moderation refused the image',
			task_id: expect.any(String),
		});
		await execution.close();
	});

	it('answers duplicate terminal deliveries after the resume with 409, resuming only once', async () => {
		const sim = simulator();
		sim.reset();
		const workflow = callbackWorkflow({
			downloadImages: false,
			options: { timeout: 60 },
		});
		const execution = await waitingExecution(workflow, EXPAND_NODE, simulatorCredentials(sim.url));
		await execution.start([binaryItem(await testImage())]);
		await execution.resumedRun();
		const last = sim.callbackDeliveries.at(-1)!;
		const replay = await fetch(last.url, {
			method: 'POST',
			body: last.rawBody,
			headers: { 'content-type': 'application/json' },
		});
		expect(replay.status).toBe(409);
		expect(execution.deliveries.filter((delivery) => delivery.resumed)).toHaveLength(1);
		await execution.close();
	});

	it("gives Kling a resume URL that opens only this node: once the batch resumed, the URL cannot resume a downstream Wait node's webhook", async () => {
		const sim = simulator();
		const expand = callbackWorkflow({ downloadImages: false, options: { timeout: 60 } });
		const workflow = {
			nodes: [
				...expand.nodes,
				{
					id: 'approval',
					name: 'Wait',
					type: WAIT_NODE_TYPE,
					typeVersion: 1,
					position: [200, 0] as [number, number],
					parameters: {},
				},
			],
			connections: {
				[EXPAND_NODE]: { main: [[{ node: 'Wait', type: 'main' as const, index: 0 }]] },
			},
		};
		const execution = await waitingExecution(workflow, EXPAND_NODE, simulatorCredentials(sim.url));
		await execution.start([binaryItem(await testImage())]);
		const afterKling = await execution.resumedRun();
		// The batch resumed with its task; the next node, an approval step, now waits on its own webhook.
		expect(afterKling!.output(EXPAND_NODE).map((item) => item.json.task_status)).toEqual([
			'succeed',
		]);
		expect(afterKling!.run.status).toBe('waiting');
		expect(execution.state).toBe('waiting');

		// Kling (or whoever saw its callback: a gateway, a proxy log) posts the same URL again.
		const callback = sim.callbackDeliveries.at(-1)!;
		const replay = await fetch(callback.url, {
			method: 'POST',
			body: JSON.stringify({ ...callback.body, approved: true }),
			headers: { 'content-type': 'application/json' },
		});
		expect(replay.status).toBe(404);
		expect(execution.state).toBe('waiting');
		expect(execution.deliveries.filter((delivery) => delivery.resumed)).toHaveLength(1);
		// n8n matches the URL's last segment, the node's id, to the waiting node's restart webhook.
		expect(new URL(callback.url).pathname).toBe(`/webhook-waiting/${execution.executionId}/expand`);

		// The Wait node's own URL (the execution's, without a suffix) still resumes it.
		const waitUrl = new URL(callback.url);
		waitUrl.pathname = `/webhook-waiting/${execution.executionId}`;
		waitUrl.search = '';
		const approval = await fetch(waitUrl, {
			method: 'POST',
			body: '{"approved": true}',
			headers: { 'content-type': 'application/json' },
		});
		expect(approval.status).toBe(200);
		const approved = await execution.lastResumedRun();
		expect(approved!.run.status).toBe('success');
		expect(approved!.output('Wait').map((item) => item.json)).toEqual([
			{ approvedWith: { approved: true } },
		]);
		await execution.close();
	});

	it('when the wait times out, outputs each item marked timed_out with its pending task_id, and Get Task recovers it', async () => {
		const { sim, execution } = await callbackRun(2, { prompt: 'slow' });
		const timedOut = await execution.timeOut();
		const output = timedOut.output(EXPAND_NODE);
		const taskIds = [...sim.tasks.keys()];
		expect(output.map((item) => item.json.wait_status)).toEqual(['timed_out', 'timed_out']);
		expect(output.map((item) => item.json.task_id).sort()).toEqual([...taskIds].sort());
		expect(output[0].json.message).toMatch(/fetch it with Get Task/);
		expect(output[0].json.index).toBe(0);
		const recovered = await runWorkflow(
			expandWorkflow({ operation: 'getTask', taskId: '={{ $json.task_id }}' } as never),
			{
				startNode: EXPAND_NODE,
				input: output,
				credentials: simulatorCredentials(sim.url),
			},
		);
		expect(recovered.output(EXPAND_NODE).map((item) => item.json.task_id)).toEqual(
			output.map((item) => item.json.task_id),
		);
		expect(
			recovered
				.output(EXPAND_NODE)
				.every((item) => ['submitted', 'processing'].includes(String(item.json.task_status))),
		).toBe(true);
		await execution.close();
	});

	it('refuses a callback without the batch query, or with a body that is not a task, with 400', async () => {
		const { execution, sim } = await callbackRun(1, { prompt: 'slow' });
		const resumeUrl = new URL(
			(requestsOf(sim, 'create')[0].body as { callback_url: string }).callback_url,
		);
		const bare = `${resumeUrl.origin}${resumeUrl.pathname}`;
		expect(
			(
				await fetch(bare, {
					method: 'POST',
					body: JSON.stringify({ task_id: 'x', task_status: 'succeed' }),
					headers: { 'content-type': 'application/json' },
				})
			).status,
		).toBe(400);
		expect(
			(
				await fetch(resumeUrl, {
					method: 'POST',
					body: '{"hello": 1}',
					headers: { 'content-type': 'application/json' },
				})
			).status,
		).toBe(400);
		expect(execution.state).toBe('waiting');
		await execution.close();
	});

	it('ignores the Callback URL and External Task ID options, which it sets itself (their display is in index.test.ts)', async () => {
		// A workflow saved with them (set before switching to callback) still gets the resume URL and
		// the derived ids.
		const sim = simulator();
		const workflow = callbackWorkflow({
			prompt: 'slow',
			options: {
				...FAST_WAIT,
				timeout: 60,
				externalTaskId: 'my-id',
				callbackUrl: 'http://127.0.0.1:9/hook',
			},
		});
		const execution = await waitingExecution(workflow, EXPAND_NODE, simulatorCredentials(sim.url));
		await execution.start([binaryItem(await testImage())]);
		const [create] = requestsOf(sim, 'create').map(
			(request) => request.body as { callback_url: string; external_task_id: string },
		);
		const callback = new URL(create.callback_url);
		expect(callback.pathname).toBe(`/webhook-waiting/${execution.executionId}/expand`);
		expect(create.external_task_id).toBe(
			`n8n-${execution.executionId}-${callback.searchParams.get('kling_batch')}-0`,
		);
		await execution.close();
	});
});

/** Every request the simulator received for the expand API (creates, queries, lists): what Kling would count. */
const providerRequests = (sim: ReturnType<typeof simulator>) =>
	sim.requests.filter((request) => /\/v1\/images\/editing\/expand/.test(request.path)).length;

const post = async (url: URL | string, body: unknown) =>
	await fetch(url, {
		method: 'POST',
		body: JSON.stringify(body),
		headers: { 'content-type': 'application/json' },
	});

describe('Submit and Wait, callback mode: the resume URL', () => {
	it.each([
		['kling_items', '1', 'fewer items: resume early, dropping billed tasks'],
		['kling_items', '10000', 'more items: one POST, thousands of queries'],
		['kling_execution', '123456', "another execution's id"],
		['kling_batch', 'deadbeef0', "another batch's id"],
		['kling_signature', 'AAAA', 'a forged signature'],
	])(
		'answers 401 and sends Kling nothing when %s is changed to %s (%s)',
		async (parameter, value) => {
			const { sim, execution } = await callbackRun(3, { prompt: 'slow' });
			const url = new URL(
				(requestsOf(sim, 'create')[0].body as { callback_url: string }).callback_url,
			);
			url.searchParams.set(parameter, value);
			const [task] = sim.tasks.values();
			const before = providerRequests(sim);
			const answer = await post(url, {
				...task,
				task_status: 'succeed',
				task_result: { images: [] },
			});
			expect(answer.status).toBe(401);
			expect(await answer.json()).toEqual({ error: expect.stringMatching(/altered/) });
			expect(providerRequests(sim)).toBe(before);
			expect(execution.state).toBe('waiting');
			await execution.close();
		},
	);

	it("ignores another batch's task posted to this URL without asking Kling anything", async () => {
		const { sim, first, second, firstTask, secondTask } = await twoWaitingExecutions();
		const firstUrl = new URL(String(firstTask.createBody.callback_url));
		const before = providerRequests(sim);
		// A terminal body for the other execution's task, and one naming no task of this batch at all.
		for (const body of [
			{ ...secondTask, task_status: 'succeed' },
			{ ...firstTask, task_status: 'succeed', task_info: { external_task_id: 'someone-else-0' } },
		]) {
			const answer = await post(firstUrl, body);
			expect(answer.status).toBe(200);
			expect(await answer.json()).toMatchObject({ resumed: false, ignored: expect.any(String) });
		}
		expect(providerRequests(sim)).toBe(before);
		expect(first.state).toBe('waiting');
		await first.close();
		await second.close();
	});

	it('ignores a validly signed URL of another wait of the same execution without asking Kling', async () => {
		// n8n keeps one resume token per execution: a loop's earlier wait (or another callback-mode node
		// on the same credential) signs a URL that still verifies while this wait sleeps.
		const { sim, execution } = await callbackRun(2, { prompt: 'slow' });
		const url = new URL(
			(requestsOf(sim, 'create')[0].body as { callback_url: string }).callback_url,
		);
		const executionId = String(url.searchParams.get('kling_execution'));
		const earlierBatch = String(url.searchParams.get('kling_batch')).replace(/-\d+$/, '-7');
		const key = resumeKey(simulatorCredentials(sim.url).klingApi)!;
		url.searchParams.set('kling_batch', earlierBatch);
		url.searchParams.set(
			'kling_signature',
			signBatch(key, { executionId, batchId: earlierBatch, itemCount: 2 }),
		);
		const [task] = sim.tasks.values();
		const before = providerRequests(sim);
		const earlierTask = {
			...task,
			task_status: 'succeed',
			task_info: { external_task_id: `n8n-${executionId}-${earlierBatch}-0` },
		};
		const answer = await post(url, earlierTask);
		expect(answer.status).toBe(200);
		expect(await answer.json()).toMatchObject({
			resumed: false,
			ignored: expect.stringMatching(/not the one/),
		});
		expect(providerRequests(sim)).toBe(before);
		expect(execution.state).toBe('waiting');
		await execution.close();
	});

	it('takes the execution id from n8n: the URL of one execution does not verify on another', async () => {
		const { sim, first, second, firstTask, secondTask } = await twoWaitingExecutions();
		// The second execution's resume path with the first one's (validly signed) query.
		const url = new URL(String(secondTask.createBody.callback_url));
		url.search = new URL(String(firstTask.createBody.callback_url)).search;
		const before = providerRequests(sim);
		expect((await post(url, { ...firstTask, task_status: 'succeed' })).status).toBe(401);
		expect(providerRequests(sim)).toBe(before);
		await first.close();
		await second.close();
	});
});

describe('Submit and Wait, callback mode: errors', () => {
	it("goes through the router's error policy: item index, Kling's code and meaning, and only accepted tasks named", async () => {
		const sim = simulator();
		const workflow = callbackWorkflow({
			downloadImages: false,
			options: { ...FAST_WAIT, concurrency: 1, timeout: 60 },
		});
		const execution = await waitingExecution(workflow, EXPAND_NODE, simulatorCredentials(sim.url));
		sim.injectFault({ on: 'create', kind: 'code', code: 1301, times: 1 });
		const started = await execution.start(
			await Promise.all([0, 1, 2].map(async () => binaryItem(await testImage()))),
		);
		expect(started.run.status).toBe('error');
		expect(started.error).toMatchObject({
			httpCode: '400',
			message: expect.stringMatching(/Kling error 1301: Refused by content safety/),
		});
		const error = started.error as { context?: { itemIndex?: number }; description: string };
		expect(error.context?.itemIndex).toBe(0);
		const accepted = [...sim.tasks.values()];
		expect(accepted).toHaveLength(2);
		for (const task of accepted) expect(error.description).toContain(task.task_id);
		// The refused create left no task: its external id is not named as submitted.
		const refused = (requestsOf(sim, 'create')[0].body as { external_task_id: string })
			.external_task_id;
		expect(accepted.map((task) => task.task_info.external_task_id)).not.toContain(refused);
		expect(error.description).not.toContain(refused);
		await execution.close();
	});

	it('waits out 1303 beyond the request retry budget, within the Timeout, and bills each item once', async () => {
		const sim = simulator();
		sim.injectFault({ on: 'create', kind: 'code', code: 1303, times: 14 });
		const workflow = callbackWorkflow({
			downloadImages: false,
			options: { ...FAST_WAIT, retryDelay: 0.01, concurrency: 1, timeout: 60 },
		});
		const execution = await waitingExecution(workflow, EXPAND_NODE, simulatorCredentials(sim.url));
		await execution.start(await Promise.all([0, 1].map(async () => binaryItem(await testImage()))));
		const resumed = await execution.resumedRun(20_000);
		expect(resumed!.output(EXPAND_NODE).map((item) => item.json.task_status)).toEqual([
			'succeed',
			'succeed',
		]);
		expect(sim.stats().rejected1303).toBe(14);
		expect(sim.acceptedCreates()).toBe(2);
		await execution.close();
	}, 30_000);
});
