import sharp from 'sharp';

import { runWorkflow } from '../../../../harness/engine';
import { FAST_WAIT, requestsOf, testImage, useSimulator } from '../../../../harness/fixtures';
import type { AuthStyle } from '../../../../harness/workflows';
import {
	binaryItem,
	expandWorkflow,
	EXPAND_NODE,
	simulatorCredentials,
} from '../../../../harness/workflows';

/** Tasks prompted "slow" outlast the timeout tests give them. */
const simulator = useSimulator({
	taskDurationMs: (task) => (task.createBody.prompt === 'slow' ? 2500 : 150),
});

const ratios = {
	expansionMode: 'ratios',
	upExpansionRatio: 0.5,
	downExpansionRatio: 0.5,
	leftExpansionRatio: 0.25,
	rightExpansionRatio: 0.25,
};

async function submitAndWait(
	parameters: Record<string, unknown>,
	input: Parameters<typeof runWorkflow>[1]['input'],
	auth: AuthStyle = 'accessKey',
	extra: Partial<Parameters<typeof runWorkflow>[1]> = {},
) {
	const sim = simulator();
	const { options, ...rest } = parameters as { options?: object };
	return await runWorkflow(
		expandWorkflow({
			operation: 'submitAndWait',
			...rest,
			options: { ...FAST_WAIT, ...options },
		} as never),
		{
			startNode: EXPAND_NODE,
			input,
			credentials: simulatorCredentials(sim.url, auth),
			...extra,
		},
	);
}

const dimensions = async (data: string) => {
	const meta = await sharp(Buffer.from(data, 'base64')).metadata();
	return [meta.width, meta.height];
};

describe('submitAndWait', () => {
	it.each<AuthStyle>(['accessKey', 'apiKey', 'cometapi'])(
		'waits for the task with %s auth and outputs the expanded image as binary data of the expected size',
		async (auth) => {
			const sim = simulator();
			const result = await submitAndWait(
				{ imageSource: 'binary', ...ratios },
				[binaryItem(await testImage(400, 300))],
				auth,
			);
			expect(result.error).toBeUndefined();
			const [item] = result.output(EXPAND_NODE);
			expect(item.json).toMatchObject({
				task_status: 'succeed',
				expansion: { expected_width: 600, expected_height: 600 },
				image: { index: 0, width: 600, height: 600, mime_type: 'image/png' },
			});
			expect(item.binary!.data).toMatchObject({
				mimeType: 'image/png',
				fileName: `${item.json.task_id}_0.png`,
			});
			expect(await dimensions(item.binary!.data.data)).toEqual([600, 600]);
			expect(sim.acceptedCreates()).toBe(1);
		},
	);

	it('gives one item per image by default, and all images on one item when asked', async () => {
		const input = [binaryItem(await testImage(400, 400))];
		const perImage = await submitAndWait(
			{ imageSource: 'binary', ...ratios, numberOfImages: 3 },
			input,
		);
		expect(
			perImage.output(EXPAND_NODE).map((item) => (item.json.image as { index: number }).index),
		).toEqual([0, 1, 2]);
		expect(
			perImage
				.output(EXPAND_NODE)
				.every((item) => item.pairedItem && (item.pairedItem as { item: number }).item === 0),
		).toBe(true);

		const oneItem = await submitAndWait(
			{
				imageSource: 'binary',
				...ratios,
				numberOfImages: 3,
				options: { imagesOutput: 'oneItem', binaryPropertyOutput: 'expanded' },
			},
			input,
		);
		const [item] = oneItem.output(EXPAND_NODE);
		expect(oneItem.output(EXPAND_NODE)).toHaveLength(1);
		expect(Object.keys(item.binary!)).toEqual(['expanded_0', 'expanded_1', 'expanded_2']);
		expect(await dimensions(item.binary!.expanded_2.data)).toEqual([600, 800]);
	});

	it('refuses a result download above the size cap, naming the task', async () => {
		const sim = simulator();
		const result = await submitAndWait(
			{ imageSource: 'binary', ...ratios, options: { maxDownloadSize: 0.001 } },
			[binaryItem(await testImage())],
		);
		const [taskId] = [...sim.tasks.keys()];
		expect(result.error).toMatchObject({
			message: expect.stringMatching(
				/is larger than the download limit of 1049 bytes \(the Max Download Size option\)/,
			),
		});
		expect(String(result.error!.description)).toContain(taskId);
	});

	it('outputs the task without binary data when downloading is off', async () => {
		const result = await submitAndWait(
			{ imageSource: 'binary', ...ratios, downloadImages: false },
			[binaryItem(await testImage())],
		);
		const [item] = result.output(EXPAND_NODE);
		expect(item.binary).toBeUndefined();
		expect(item.json.task_result).toMatchObject({
			images: [{ index: 0, url: expect.stringContaining('/results/') }],
		});
	});

	it('expands in aspect-ratio mode from a base64 JPEG to the target shape', async () => {
		const jpeg = await testImage(600, 400, 'jpeg');
		const result = await submitAndWait(
			{
				imageSource: 'base64',
				imageBase64: jpeg.toString('base64'),
				expansionMode: 'aspectRatio',
				targetAspectRatio: '9:16',
				areaMultiplier: 3,
			},
			[{ json: {} }],
		);
		expect(result.error).toBeUndefined();
		const [item] = result.output(EXPAND_NODE);
		const [width, height] = await dimensions(item.binary!.data.data);
		expect(Math.abs(width! / height! - 9 / 16)).toBeLessThan(0.01);
		expect([width, height]).toEqual([
			(item.json.expansion as { expected_width: number }).expected_width,
			(item.json.expansion as { expected_height: number }).expected_height,
		]);
	});

	it('polls a batch with list requests and keeps order and pairing', async () => {
		const sim = simulator();
		const input = await Promise.all(
			[300, 350, 400, 450, 500, 550, 600, 650].map(async (width) =>
				binaryItem(await testImage(width, 300)),
			),
		);
		const result = await submitAndWait(
			{ imageSource: 'binary', ...ratios, options: { concurrency: 8 } },
			input,
		);
		expect(result.error).toBeUndefined();
		const output = result.output(EXPAND_NODE);
		expect(
			output.map((item) => (item.json.expansion as { original_width: number }).original_width),
		).toEqual([300, 350, 400, 450, 500, 550, 600, 650]);
		expect(output.map((item) => item.pairedItem)).toEqual(input.map((_, item) => ({ item })));
		expect(requestsOf(sim, 'create')).toHaveLength(8);
		// One list page answers the whole batch: far fewer requests than one query per task per check.
		expect(requestsOf(sim, 'list').length).toBeGreaterThan(0);
		expect(requestsOf(sim, 'query').length + requestsOf(sim, 'list').length).toBeLessThan(8 * 3);
	});

	it('never holds more slots than the concurrency option, counting n per task', async () => {
		const sim = simulator();
		const input = await Promise.all(
			Array.from({ length: 6 }, async () => binaryItem(await testImage())),
		);
		const result = await submitAndWait(
			{
				imageSource: 'binary',
				...ratios,
				numberOfImages: 2,
				downloadImages: false,
				options: { concurrency: 4 },
			},
			input,
		);
		expect(result.error).toBeUndefined();
		expect(sim.stats().peakSlots).toBeLessThanOrEqual(4);
		expect(sim.stats().rejected1303).toBe(0);
		expect(result.output(EXPAND_NODE)).toHaveLength(6);
	});

	it("turns a failed task into an error naming the task and Kling's reason", async () => {
		const sim = simulator();
		sim.failTasksWith('Content moderation: the image was refused');
		const result = await submitAndWait({ imageSource: 'binary', ...ratios }, [
			binaryItem(await testImage()),
		]);
		const taskId = [...sim.tasks.keys()][0];
		expect(result.error).toMatchObject({
			name: 'NodeOperationError',
			message: `Kling task ${taskId} failed: Content moderation: the image was refused`,
		});
		expect(result.error!.description).toContain(taskId);
	});

	it('under Continue On Fail, gives one error item for the failed task and keeps the others', async () => {
		const sim = simulator();
		sim.failTasksWith('refused', (body) => body.prompt === 'bad');
		const input = [
			binaryItem(await testImage()),
			binaryItem(await testImage()),
			binaryItem(await testImage()),
		];
		const workflow = expandWorkflow(
			{
				operation: 'submitAndWait',
				imageSource: 'binary',
				...ratios,
				prompt: '={{ $itemIndex === 1 ? "bad" : "good" }}',
				options: FAST_WAIT,
			} as never,
			{ onError: 'continueRegularOutput' },
		);
		const result = await runWorkflow(workflow, {
			startNode: EXPAND_NODE,
			input,
			credentials: simulatorCredentials(sim.url),
		});
		const output = result.output(EXPAND_NODE);
		expect(output).toHaveLength(3);
		expect(output[0].json.task_status).toBe('succeed');
		expect(output[1].json).toMatchObject({
			error: expect.stringMatching(/failed: refused/),
			task_status: 'failed',
			task_status_msg: 'refused',
			task_id: expect.any(String),
		});
		expect(output[1].pairedItem).toEqual({ item: 1 });
		expect(output[2].json.task_status).toBe('succeed');
		expect(sim.acceptedCreates()).toBe(3);
	});

	it('times out with an error naming every pending task, and Get Task recovers them later', async () => {
		const sim = simulator();
		const slow = await runWorkflow(
			expandWorkflow({
				operation: 'submitAndWait',
				imageSource: 'binary',
				...ratios,
				prompt: 'slow',
				options: { ...FAST_WAIT, timeout: 1 },
			} as never),
			{
				startNode: EXPAND_NODE,
				input: [binaryItem(await testImage()), binaryItem(await testImage())],
				credentials: simulatorCredentials(sim.url),
			},
		);
		expect(sim.acceptedCreates()).toBe(2);
		const taskIds = [...sim.tasks.keys()];
		expect(slow.error).toMatchObject({
			name: 'NodeOperationError',
			message: expect.stringMatching(/did not finish within 1 s/),
		});
		for (const taskId of taskIds)
			expect(`${slow.error!.message} ${slow.error!.description}`).toContain(taskId);

		await new Promise((resolve) => setTimeout(resolve, 2000));
		const recovered = await runWorkflow(
			expandWorkflow({
				operation: 'getTask',
				taskId: '={{ $json.task_id }}',
				downloadImages: true,
			} as never),
			{
				startNode: EXPAND_NODE,
				input: taskIds.map((task_id) => ({ json: { task_id } })),
				credentials: simulatorCredentials(sim.url),
			},
		);
		expect(
			recovered
				.output(EXPAND_NODE)
				.map((item) => [item.json.task_id, item.json.task_status, Boolean(item.binary?.data)]),
		).toEqual(taskIds.map((taskId) => [taskId, 'succeed', true]));
	}, 20_000);

	it('stops waiting when the execution is cancelled', async () => {
		const controller = new AbortController();
		const started = Date.now();
		setTimeout(() => controller.abort(), 300);
		const result = await submitAndWait(
			{ imageSource: 'binary', ...ratios, prompt: 'slow', options: { timeout: 60 } },
			[binaryItem(await testImage())],
			'accessKey',
			{ signal: controller.signal },
		);
		expect(Date.now() - started).toBeLessThan(5000);
		expect(result.output(EXPAND_NODE).some((item) => item.json.task_status === 'succeed')).toBe(
			false,
		);
	});

	it("under n8n's Retry On Fail, runs the node again without creating a task twice: the next try looks up what the first sent and takes it", async () => {
		const sim = simulator();
		// The first create to arrive is refused for good (1102), so the run fails and n8n runs the node again.
		sim.injectFault({ on: 'create', kind: 'code', code: 1102, times: 1 });
		const workflow = expandWorkflow(
			{ operation: 'submitAndWait', imageSource: 'binary', ...ratios, options: FAST_WAIT } as never,
			{ retryOnFail: true, maxTries: 2, waitBetweenTries: 0 },
		);
		const result = await runWorkflow(workflow, {
			startNode: EXPAND_NODE,
			input: [binaryItem(await testImage(400, 300)), binaryItem(await testImage(420, 300))],
			credentials: simulatorCredentials(sim.url),
		});

		expect(result.error).toBeUndefined();
		expect(
			result
				.output(EXPAND_NODE)
				.map((item) => [item.json.task_status, (item.json.image as { width: number }).width]),
		).toEqual([
			['succeed', 600],
			['succeed', 630],
		]);
		const sent = requestsOf(sim, 'create').map(
			(request) => (request.body as { external_task_id: string }).external_task_id,
		);
		// Try 1 sent both creates (one refused); try 2 found the accepted task by its id and sent only the other again.
		expect(sent).toHaveLength(3);
		expect(new Set(sent).size).toBe(2);
		expect(sim.acceptedCreates()).toBe(2);
	});

	it('under Retry On Fail, makes a fresh task (under a new id) for an item whose task failed, and takes the others as they are', async () => {
		const sim = simulator();
		sim.failTasksWith('Kling had a bad moment (simulated)', (body) =>
			String(body.external_task_id).endsWith('-0-0'),
		);
		const workflow = expandWorkflow(
			{ operation: 'submitAndWait', imageSource: 'binary', ...ratios, options: FAST_WAIT } as never,
			{ retryOnFail: true, maxTries: 2, waitBetweenTries: 0 },
		);
		const result = await runWorkflow(workflow, {
			startNode: EXPAND_NODE,
			input: [binaryItem(await testImage(400, 300)), binaryItem(await testImage(420, 300))],
			credentials: simulatorCredentials(sim.url),
		});

		expect(result.error).toBeUndefined();
		expect(result.output(EXPAND_NODE).map((item) => item.json.task_status)).toEqual([
			'succeed',
			'succeed',
		]);
		const sent = requestsOf(sim, 'create').map(
			(request) => (request.body as { external_task_id: string }).external_task_id,
		);
		expect(sent).toHaveLength(3);
		expect(sent.filter((id) => id.endsWith('-0-0-2'))).toHaveLength(1);
		expect(sim.acceptedCreates()).toBe(3);
		expect([...sim.tasks.values()].map((task) => task.task_status).sort()).toEqual([
			'failed',
			'succeed',
			'succeed',
		]);
	});

	it('refuses, before sending it, an item whose External Task ID another item of the run already uses', async () => {
		const sim = simulator();
		const result = await submitAndWait(
			{ imageSource: 'binary', ...ratios, options: { externalTaskId: 'photo-1' } },
			[binaryItem(await testImage()), binaryItem(await testImage())],
			'accessKey',
			{},
		);
		expect(result.error).toMatchObject({
			name: 'NodeOperationError',
			message: expect.stringMatching(
				/^External Task ID is "photo-1"; item [01] of this run already uses it/,
			),
		});
		expect(requestsOf(sim, 'create')).toHaveLength(1);
		// Nothing is lost: the item that was sent is named in the error.
		expect(result.error!.description).toContain(sim.tasks.keys().next().value);
	});
});
