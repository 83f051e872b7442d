import { runWorkflow } from '../../../harness/engine';
import { requestsOf, testImage, useSimulator } from '../../../harness/fixtures';
import type { AuthStyle } from '../../../harness/workflows';
import {
	binaryItem,
	expandWorkflow,
	EXPAND_NODE,
	simulatorCredentials,
} from '../../../harness/workflows';

const simulator = useSimulator();

const ratios = {
	expansionMode: 'ratios',
	upExpansionRatio: 0.25,
	downExpansionRatio: 0.5,
	leftExpansionRatio: 0.1,
	rightExpansionRatio: 0,
};

async function submit(
	parameters: Record<string, unknown>,
	input: Parameters<typeof runWorkflow>[1]['input'],
	auth: AuthStyle = 'accessKey',
) {
	const sim = simulator();
	return await runWorkflow(expandWorkflow({ operation: 'submit', ...parameters } as never), {
		startNode: EXPAND_NODE,
		input,
		credentials: simulatorCredentials(sim.url, auth),
	});
}

describe('submit', () => {
	it.each<AuthStyle>(['accessKey', 'apiKey', 'cometapi'])(
		'creates one task with %s auth and outputs it with the canvas it will have',
		async (auth) => {
			const sim = simulator();
			const image = await testImage(400, 300);
			const result = await submit(
				{ imageSource: 'binary', ...ratios, prompt: 'more sky' },
				[binaryItem(image)],
				auth,
			);
			expect(result.error).toBeUndefined();
			const [create] = requestsOf(sim, 'create');
			expect(requestsOf(sim, 'create')).toHaveLength(1);
			expect(create.path).toBe(
				auth === 'cometapi' ? '/kling/v1/images/editing/expand' : '/v1/images/editing/expand',
			);
			const body = create.body as Record<string, unknown>;
			expect(body).toEqual({
				image: image.toString('base64'),
				up_expansion_ratio: 0.25,
				down_expansion_ratio: 0.5,
				left_expansion_ratio: 0.1,
				right_expansion_ratio: 0,
				n: 1,
				prompt: 'more sky',
				external_task_id: expect.stringMatching(/^n8n-/),
			});
			const [item] = result.output(EXPAND_NODE);
			expect(item.json).toMatchObject({
				task_id: expect.any(String),
				task_status: 'submitted',
				external_task_id: body.external_task_id,
				created_at: expect.any(Number),
				expansion: {
					original_width: 400,
					original_height: 300,
					expected_width: 440,
					expected_height: 525,
				},
			});
			expect(sim.tasks.has(item.json.task_id as string)).toBe(true);
			expect(item.pairedItem).toEqual({ item: 0 });
		},
	);

	it("sends the aspect-ratio helper's ratios for a target shape", async () => {
		const sim = simulator();
		const result = await submit(
			{
				imageSource: 'binary',
				expansionMode: 'aspectRatio',
				targetAspectRatio: '16:9',
				areaMultiplier: 3,
			},
			[binaryItem(await testImage(400, 400))],
		);
		expect(result.error).toBeUndefined();
		expect(requestsOf(sim, 'create')[0].body).toMatchObject({
			up_expansion_ratio: 0.1495,
			down_expansion_ratio: 0.1495,
			left_expansion_ratio: 0.6547,
			right_expansion_ratio: 0.6547,
		});
		expect(result.output(EXPAND_NODE)[0].json.expansion).toMatchObject({
			expected_width: 924,
			expected_height: 520,
		});
	});

	it('sends raw base64 with a pasted data: prefix removed', async () => {
		const sim = simulator();
		const jpeg = await testImage(500, 400, 'jpeg');
		const result = await submit(
			{
				imageSource: 'base64',
				imageBase64: `data:image/jpeg;base64,${jpeg.toString('base64')}`,
				...ratios,
			},
			[{ json: {} }],
		);
		expect(result.error).toBeUndefined();
		expect((requestsOf(sim, 'create')[0].body as { image: string }).image).toBe(
			jpeg.toString('base64'),
		);
	});

	it('sends a URL as a URL, after reading its size from the first bytes', async () => {
		const sim = simulator();
		// A result image of an earlier task is a real http URL served by the simulator.
		const first = await runWorkflow(
			expandWorkflow({
				operation: 'submitAndWait',
				imageSource: 'binary',
				...ratios,
				options: { pollInterval: 0.03 },
			} as never),
			{
				startNode: EXPAND_NODE,
				input: [binaryItem(await testImage(400, 300))],
				credentials: simulatorCredentials(sim.url),
			},
		);
		const url = first.output(EXPAND_NODE)[0].json.image as { url: string };
		const result = await submit(
			{
				imageSource: 'url',
				imageUrl: url.url,
				expansionMode: 'aspectRatio',
				targetAspectRatio: '1:1',
				areaMultiplier: 2,
			},
			[{ json: {} }],
		);
		expect(result.error).toBeUndefined();
		expect(requestsOf(sim, 'create')).toHaveLength(2);
		expect(requestsOf(sim, 'create')[1].body).toMatchObject({ image: url.url });
		expect(result.output(EXPAND_NODE)[0].json.expansion).toMatchObject({
			original_width: 440,
			original_height: 525,
		});
	});

	it('passes watermark, callback URL, external task id and n through, and keeps the official down_expansion_ratio name', async () => {
		const sim = simulator();
		const result = await submit(
			{
				imageSource: 'binary',
				...ratios,
				numberOfImages: 3,
				options: {
					watermark: true,
					callbackUrl: 'http://127.0.0.1:9/hook',
					externalTaskId: 'my-id-1',
				},
			},
			[binaryItem(await testImage())],
		);
		expect(result.error).toBeUndefined();
		expect(requestsOf(sim, 'create')[0].body).toMatchObject({
			n: 3,
			watermark_info: { enabled: true },
			callback_url: 'http://127.0.0.1:9/hook',
			external_task_id: 'my-id-1',
			down_expansion_ratio: 0.5,
		});
		expect(result.output(EXPAND_NODE)[0].json.external_task_id).toBe('my-id-1');
	});

	it('submits many items concurrently and keeps their order and pairing', async () => {
		const sim = simulator();
		const items = await Promise.all(
			[300, 320, 340, 360, 380, 400].map(async (width) => binaryItem(await testImage(width, 300))),
		);
		const result = await submit(
			{ imageSource: 'binary', ...ratios, options: { concurrency: 3 } },
			items,
		);
		expect(result.error).toBeUndefined();
		const output = result.output(EXPAND_NODE);
		expect(
			output.map((item) => (item.json.expansion as { original_width: number }).original_width),
		).toEqual([300, 320, 340, 360, 380, 400]);
		expect(output.map((item) => item.pairedItem)).toEqual(items.map((_, item) => ({ item })));
		expect(sim.acceptedCreates()).toBe(6);
	});
});

describe('submit refuses bad input before sending anything', () => {
	type Input = Parameters<typeof runWorkflow>[1]['input'];
	const cases: Array<[string, Record<string, unknown>, () => Promise<Input>, RegExp]> = [
		[
			'a GIF',
			{
				imageSource: 'base64',
				imageBase64: Buffer.from('GIF89a........').toString('base64'),
				...ratios,
			},
			async () => [{ json: {} }],
			/Image \(Base64\) is .*not a PNG or JPEG/i,
		],
		[
			'text that is not base64',
			{ imageSource: 'base64', imageBase64: 'not base64 at all!', ...ratios },
			async () => [{ json: {} }],
			/Image \(Base64\) is "not base64 at all!"; it must be a PNG or JPEG encoded as base64/,
		],
		[
			'an image under 300 px',
			{ imageSource: 'binary', ...ratios },
			async () => [binaryItem(await testImage(299, 400))],
			/Input binary field "data" is 299×400 px; width and height must each be at least 300 px/,
		],
		[
			'an image wider than 2.5:1',
			{ imageSource: 'binary', ...ratios },
			async () => [binaryItem(await testImage(1001, 400))],
			/1001×400 px; the aspect ratio must be between 1:2\.5 and 2\.5:1/,
		],
		[
			'an image over 10 MB',
			{ imageSource: 'binary', ...ratios },
			async () => [
				binaryItem(Buffer.concat([await testImage(400, 300), Buffer.alloc(10 * 1024 * 1024)])),
			],
			/Input binary field "data" is 10\.\d MB; Kling accepts images up to 10 MB/,
		],
		[
			'a missing binary field',
			{ imageSource: 'binary', binaryPropertyName: 'photo', ...ratios },
			async () => [binaryItem(await testImage())],
			/photo/,
		],
		[
			'a ratio above 2',
			{ imageSource: 'binary', ...ratios, upExpansionRatio: 2.4 },
			async () => [binaryItem(await testImage())],
			/Up Expansion Ratio is 2\.4; each expansion ratio must be a number between 0 and 2/,
		],
		[
			'a negative ratio',
			{ imageSource: 'binary', ...ratios, leftExpansionRatio: -0.1 },
			async () => [binaryItem(await testImage())],
			/Left Expansion Ratio is -0\.1; each expansion ratio must be a number between 0 and 2/,
		],
		[
			'a canvas over 3× the area',
			{ imageSource: 'binary', ...ratios, upExpansionRatio: 1, downExpansionRatio: 1 },
			async () => [binaryItem(await testImage())],
			/The canvas these expansion ratios make is \(1 \+ 0\.1 \+ 0\) × \(1 \+ 1 \+ 1\) = 3\.300× the original area; it must be at most 3× the original area/,
		],
		[
			'no expansion at all',
			{
				imageSource: 'binary',
				...ratios,
				upExpansionRatio: 0,
				downExpansionRatio: 0,
				leftExpansionRatio: 0,
				rightExpansionRatio: 0,
			},
			async () => [binaryItem(await testImage())],
			/at least one side must be expanded/,
		],
		[
			'an unreadable aspect ratio',
			{ imageSource: 'binary', expansionMode: 'aspectRatio', targetAspectRatio: 'wide' },
			async () => [binaryItem(await testImage())],
			/Target aspect ratio is "wide"/,
		],
		[
			'a shape the area cannot hold',
			{
				imageSource: 'binary',
				expansionMode: 'aspectRatio',
				targetAspectRatio: '16:9',
				areaMultiplier: 1.2,
			},
			async () => [binaryItem(await testImage(400, 400))],
			/use an area multiplier of at least 1\.78/,
		],
		[
			'a prompt over 2500 characters',
			{ imageSource: 'binary', ...ratios, prompt: 'x'.repeat(2501) },
			async () => [binaryItem(await testImage())],
			/Prompt is "x+…" \(2501 characters\); the prompt must be at most 2500 characters/,
		],
		[
			'n of 10',
			{ imageSource: 'binary', ...ratios, numberOfImages: 10 },
			async () => [binaryItem(await testImage())],
			/Number of Images is 10; the number of images must be a whole number from 1 to 9/,
		],
		[
			'a callback URL that is not http(s)',
			{ imageSource: 'binary', ...ratios, options: { callbackUrl: 'ftp://example.com/x' } },
			async () => [binaryItem(await testImage())],
			/Callback URL is "ftp:\/\/example\.com\/x"; it must be an http:\/\/ or https:\/\/ URL/,
		],
		[
			'an External Task ID over 128 characters',
			{ imageSource: 'binary', ...ratios, options: { externalTaskId: 'a'.repeat(129) } },
			async () => [binaryItem(await testImage())],
			/External Task ID is "a+…" \(129 characters\); an External Task ID must be at most 128 characters/,
		],
		[
			'an image URL that is not http(s)',
			{ imageSource: 'url', imageUrl: 'file:///etc/passwd', ...ratios },
			async () => [{ json: {} }],
			/Image URL is "file:\/\/\/etc\/passwd"; it must be an http:\/\/ or https:\/\/ URL/,
		],
	];

	it.each(cases)(
		'refuses %s with an error naming the field, the value and the rule',
		async (_name, parameters, input, message) => {
			const sim = simulator();
			const result = await submit(parameters, await input());
			expect(result.error).toMatchObject({
				name: 'NodeOperationError',
				message: expect.stringMatching(message),
			});
			expect(sim.requests).toHaveLength(0);
		},
	);
});
