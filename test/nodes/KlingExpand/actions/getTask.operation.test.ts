import { runWorkflow } from '../../../harness/engine';
import { requestsOf, testImage, useSimulator } from '../../../harness/fixtures';
import type { AuthStyle } from '../../../harness/workflows';
import {
	binaryItem,
	EXPAND_NODE,
	expandWorkflow,
	simulatorCredentials,
	UP_RATIOS,
} from '../../../harness/workflows';

const simulator = useSimulator();

async function submitOne(auth: AuthStyle, externalTaskId?: string) {
	const sim = simulator();
	const result = await runWorkflow(
		expandWorkflow({
			operation: 'submit',
			imageSource: 'binary',
			...UP_RATIOS,
			options: { externalTaskId },
		} as never),
		{
			startNode: EXPAND_NODE,
			input: [binaryItem(await testImage())],
			credentials: simulatorCredentials(sim.url, auth),
		},
	);
	return result.output(EXPAND_NODE)[0].json as { task_id: string; external_task_id: string };
}

async function getTask(parameters: Record<string, unknown>, auth: AuthStyle = 'accessKey') {
	const sim = simulator();
	return await runWorkflow(expandWorkflow({ operation: 'getTask', ...parameters } as never), {
		startNode: EXPAND_NODE,
		input: [{ json: {} }],
		credentials: simulatorCredentials(sim.url, auth),
	});
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 400));

describe('getTask', () => {
	it.each<AuthStyle>(['accessKey', 'apiKey', 'cometapi'])(
		'fetches a finished task by task_id with %s auth, with its result images',
		async (auth) => {
			const sim = simulator();
			const submitted = await submitOne(auth);
			await settle();
			const result = await getTask({ taskId: submitted.task_id }, auth);
			expect(result.error).toBeUndefined();
			expect(result.output(EXPAND_NODE)[0].json).toMatchObject({
				task_id: submitted.task_id,
				task_status: 'succeed',
				task_result: { images: [{ index: 0, url: expect.any(String) }] },
			});
			expect(requestsOf(sim, 'query').at(-1)!.path).toBe(
				`${auth === 'cometapi' ? '/kling' : ''}/v1/images/editing/expand/${submitted.task_id}`,
			);
		},
	);

	it('fetches a task by its external_task_id and downloads its images when asked', async () => {
		await submitOne('accessKey', 'order-42');
		await settle();
		const result = await getTask({
			findBy: 'externalTaskId',
			taskId: 'order-42',
			downloadImages: true,
		});
		const [item] = result.output(EXPAND_NODE);
		expect(item.json).toMatchObject({
			external_task_id: 'order-42',
			task_status: 'succeed',
			image: { width: 400, height: 450 },
		});
		expect(item.binary!.data.mimeType).toBe('image/png');
	});

	it('learns once per run how Kling reads an external_task_id: the next item asks that way first', async () => {
		const sim = simulator();
		await submitOne('accessKey', 'order-1');
		await submitOne('accessKey', 'order-2');
		sim.setModes({ externalIdLookup: 'collection' });
		const before = sim.requests.length;
		const result = await runWorkflow(
			expandWorkflow({
				operation: 'getTask',
				findBy: 'externalTaskId',
				taskId: '={{ $json.id }}',
			} as never),
			{
				startNode: EXPAND_NODE,
				input: [{ json: { id: 'order-1' } }, { json: { id: 'order-2' } }],
				credentials: simulatorCredentials(sim.url),
			},
		);
		expect(result.output(EXPAND_NODE).map((item) => item.json.external_task_id)).toEqual([
			'order-1',
			'order-2',
		]);
		// Item 0 tries the path, the flagged path, then the collection; item 1 only the collection.
		expect(sim.requests.slice(before).map((request) => request.path.split('/').at(-1))).toEqual([
			'order-1',
			'order-1?external_task_id=true',
			'expand?external_task_id=order-1',
			'expand?external_task_id=order-2',
		]);
	});

	it('shows a task still in progress without downloading', async () => {
		const submitted = await submitOne('accessKey');
		const result = await getTask({ taskId: submitted.task_id, downloadImages: true });
		const [item] = result.output(EXPAND_NODE);
		expect(['submitted', 'processing']).toContain(item.json.task_status);
		expect(item.binary).toBeUndefined();
	});

	it("answers an unknown task with Kling's 1203 explained", async () => {
		const result = await getTask({ taskId: 'no-such-task' });
		expect(result.error).toMatchObject({
			name: 'NodeApiError',
			message: expect.stringMatching(/Kling error 1203: Resource does not exist/),
			httpCode: '404',
		});
	});

	it('refuses an empty task id before sending anything', async () => {
		const sim = simulator();
		const result = await getTask({ taskId: '  ' });
		expect(result.error).toMatchObject({
			name: 'NodeOperationError',
			message: expect.stringMatching(/Task ID is empty/),
		});
		expect(sim.requests).toHaveLength(0);
	});
});
