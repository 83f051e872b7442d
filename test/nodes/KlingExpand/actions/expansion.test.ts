import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { INode } from 'n8n-workflow';
import sharp from 'sharp';

import { NODE_TYPES, runWorkflow } from '../../../harness/engine';
import { FAST_WAIT, requestsOf, testImage, useSimulator } from '../../../harness/fixtures';
import {
	binaryItem,
	expandWorkflow,
	EXPAND_NODE,
	simulatorCredentials,
} from '../../../harness/workflows';

const simulator = useSimulator();

interface Summary {
	up: number;
	down: number;
	left: number;
	right: number;
	original_x: number;
	original_y: number;
	expected_width: number;
	expected_height: number;
	exact?: boolean;
	note?: string;
}

async function run(
	operation: 'submit' | 'submitAndWait',
	parameters: Record<string, unknown>,
	image: Buffer,
	typeVersion = 1,
	credentials = true,
) {
	const sim = simulator();
	const { options, ...rest } = parameters as { options?: object };
	return await runWorkflow(
		expandWorkflow(
			{ operation, imageSource: 'binary', ...rest, options: { ...FAST_WAIT, ...options } } as never,
			{ typeVersion },
		),
		{
			startNode: EXPAND_NODE,
			input: [binaryItem(image)],
			credentials: credentials ? simulatorCredentials(sim.url) : {},
		},
	);
}

const raw = async (png: Buffer) => {
	const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
	return { data, width: info.width, height: info.height };
};

/**
 * Runs Submit and Wait, then checks the simulator's real expanded image: the size the node stated,
 * and the original's pixels, unchanged, at the corner the node stated.
 */
async function expandAndCheck(
	parameters: Record<string, unknown>,
	width: number,
	height: number,
	typeVersion = 1,
): Promise<Summary> {
	const image = await testImage(width, height);
	const result = await run('submitAndWait', parameters, image, typeVersion);
	expect(result.error).toBeUndefined();
	const [item] = result.output(EXPAND_NODE);
	const summary = item.json.expansion as unknown as Summary;
	const expanded = await raw(Buffer.from(item.binary!.data.data, 'base64'));
	expect([expanded.width, expanded.height]).toEqual([
		summary.expected_width,
		summary.expected_height,
	]);
	const original = await raw(image);
	const region = await sharp(Buffer.from(item.binary!.data.data, 'base64'))
		.removeAlpha()
		.extract({ left: summary.original_x, top: summary.original_y, width, height })
		.raw()
		.toBuffer();
	expect(region.equals(original.data)).toBe(true);
	return summary;
}

describe('expansion modes in the engine, checked on the expanded image', () => {
	it("Target Aspect Ratio, ×3, 16:9 at the middle of the left edge: Kling's example, all new width on the right", async () => {
		const summary = await expandAndCheck(
			{
				expansionMode: 'aspectRatio',
				targetAspectRatio: '16:9',
				areaMultiplier: 3,
				placement: 'left',
			},
			400,
			400,
		);
		expect(summary).toMatchObject({ up: 0.1495, down: 0.1495, left: 0, right: 1.3094 });
		expect(summary).toMatchObject({ original_x: 0, original_y: 60 });
		expect(summary).toMatchObject({ expected_width: 924, expected_height: 520 });
	});

	it.each([
		['center', 133, 0],
		['right', 267, 0],
		['bottomRight', 267, 0],
	])(
		'new nodes (1.1) default to the smallest canvas: 4:3 → 16:9 adds only the sides, original at %s',
		async (placement, x, y) => {
			const summary = await expandAndCheck(
				{ expansionMode: 'aspectRatio', targetAspectRatio: '16:9', placement },
				800,
				600,
				1.1,
			);
			expect(summary).toMatchObject({ up: 0, down: 0, expected_width: 1067, expected_height: 600 });
			expect([summary.original_x, summary.original_y]).toEqual([x, y]);
		},
	);

	it('a preset shape with a custom position: 9:16 story with the original in the bottom third', async () => {
		const summary = await expandAndCheck(
			{
				expansionMode: 'aspectRatio',
				aspectRatioPreset: '9:16',
				canvasArea: 'smallest',
				placement: 'custom',
				horizontalPosition: 0.5,
				verticalPosition: 0.8,
			},
			540,
			540,
		);
		expect(summary).toMatchObject({ expected_width: 540, expected_height: 960, left: 0, right: 0 });
		expect(summary.original_y).toBe(336);
	});

	it('Canvas Size 1200x628 with the product on the left: exact, with all new room on the right', async () => {
		const summary = await expandAndCheck(
			{ expansionMode: 'canvasSize', canvasSize: '1200x628', placement: 'left' },
			600,
			500,
		);
		expect(summary).toMatchObject({
			expected_width: 1200,
			expected_height: 628,
			exact: true,
			original_x: 0,
			original_y: 64,
		});
	});

	it('Canvas Size larger than Kling allows: the same shape, and the note says how to resize', async () => {
		const summary = await expandAndCheck(
			{ expansionMode: 'canvasSize', canvasSize: '1200x628', placement: 'topLeft' },
			400,
			400,
		);
		expect(summary).toMatchObject({ exact: false, original_x: 0, original_y: 0 });
		expect(summary.expected_width / summary.expected_height).toBeCloseTo(1200 / 628, 2);
		expect(summary.note).toMatch(/resize afterwards with n8n's Edit Image node/);
	});

	it('Pixels per Side: the canvas grows by exactly those pixels', async () => {
		const summary = await expandAndCheck(
			{ expansionMode: 'pixels', upPixels: 30, downPixels: 0, leftPixels: 125, rightPixels: 7 },
			500,
			400,
		);
		expect(summary).toMatchObject({
			expected_width: 632,
			expected_height: 430,
			original_x: 125,
			original_y: 30,
		});
	});

	it('Ratios per Side, as before', async () => {
		const summary = await expandAndCheck(
			{
				expansionMode: 'ratios',
				upExpansionRatio: 0,
				downExpansionRatio: 0.5,
				leftExpansionRatio: 0.25,
				rightExpansionRatio: 0,
			},
			400,
			300,
		);
		expect(summary).toMatchObject({ expected_width: 500, expected_height: 450, original_x: 100 });
	});
});

describe('existing workflows (node version 1)', () => {
	it('keep the area multiplier: a saved aspect-ratio node without Canvas Area sends what it always did', async () => {
		const sim = simulator();
		const result = await run(
			'submit',
			{ expansionMode: 'aspectRatio', targetAspectRatio: '16:9' },
			await testImage(400, 400),
		);
		expect(result.error).toBeUndefined();
		// The version-1 default: area multiplier 2, centred.
		expect(requestsOf(sim, 'create')[0].body).toMatchObject({
			up_expansion_ratio: 0.0303,
			down_expansion_ratio: 0.0303,
			left_expansion_ratio: 0.4428,
			right_expansion_ratio: 0.4428,
		});
	});
});

describe('impossible requests are refused before anything is sent', () => {
	it.each([
		[
			{ expansionMode: 'aspectRatio', targetAspectRatio: '16:9', areaMultiplier: 1.2 },
			/use an area multiplier of at least 1.34 \(or Canvas Area: Smallest That Fits\)/,
		],
		[
			{ expansionMode: 'aspectRatio', targetAspectRatio: '1:3', canvasArea: 'smallest' },
			/around a 400×300 image is 4× its area; Kling allows at most 3×/,
		],
		[
			{ expansionMode: 'pixels', upPixels: 0, downPixels: 0, leftPixels: 801, rightPixels: 0 },
			/Left Pixels is 801; .* from 0 to 800/,
		],
		[
			{ expansionMode: 'canvasSize', canvasSize: '1200 by 628' },
			/Canvas Size is "1200 by 628"; it must be width x height/,
		],
		[
			{ expansionMode: 'aspectRatio', placement: 'custom', horizontalPosition: 1.5 },
			/Horizontal Position is 1.5/,
		],
	])('%j', async (parameters, message) => {
		const sim = simulator();
		const result = await run('submitAndWait', parameters, await testImage(400, 300));
		expect(result.error?.message).toMatch(message);
		expect(sim.requests).toHaveLength(0);
	});
});

describe('dry run', () => {
	const parameters = {
		expansionMode: 'canvasSize',
		canvasSize: '1200x628',
		placement: 'left',
		prompt: 'a clean studio backdrop',
		numberOfImages: 2,
		options: { externalTaskId: 'dry-run-check', watermark: true },
	};

	it.each(['submit', 'submitAndWait'] as const)(
		'%s: sends nothing, needs no credential, and outputs the request the real run then sends, field for field',
		async (operation) => {
			const sim = simulator();
			const image = await testImage(600, 500);
			const dry = await run(operation, { ...parameters, dryRun: true }, image, 1.1, false);
			expect(dry.error).toBeUndefined();
			expect(sim.requests).toHaveLength(0);
			const [item] = dry.output(EXPAND_NODE);
			expect(item.json).toMatchObject({
				dry_run: true,
				expansion: { expected_width: 1200, expected_height: 628, exact: true, original_x: 0 },
			});
			const request = item.json.request as Record<string, unknown>;
			expect(request.image).toBe(
				`<base64 of the 600×500 image in binary field "data", ${image.length} bytes>`,
			);

			const real = await run(operation, parameters, image, 1.1);
			expect(real.error).toBeUndefined();
			const [create] = requestsOf(sim, 'create');
			expect(create.body).toEqual({ ...request, image: image.toString('base64') });
			expect(real.output(EXPAND_NODE)[0].json.expansion).toEqual(item.json.expansion);
		},
	);

	it('in callback wait mode says which fields the real run sets, and still sends nothing', async () => {
		const sim = simulator();
		const dry = await run(
			'submitAndWait',
			{ ...parameters, waitMode: 'callback', dryRun: true },
			await testImage(600, 500),
			1.1,
			false,
		);
		expect(dry.error).toBeUndefined();
		expect(sim.requests).toHaveLength(0);
		expect(dry.output(EXPAND_NODE)[0].json.request).toMatchObject({
			callback_url: expect.stringMatching(/set by Callback \(Resume\) mode/),
			external_task_id: expect.stringMatching(/set by Callback \(Resume\) mode/),
			n: 2,
		});
	});

	it('still refuses bad input, with the same error as a real run', async () => {
		const sim = simulator();
		const dry = await run(
			'submit',
			{ expansionMode: 'ratios', upExpansionRatio: 2.4, dryRun: true },
			await testImage(400, 300),
			1.1,
			false,
		);
		expect(dry.error?.message).toMatch(/Up Expansion Ratio is 2.4/);
		expect(sim.requests).toHaveLength(0);
	});
});

describe('examples/ad-canvas-1200x628.json', () => {
	const example = JSON.parse(
		readFileSync(join(__dirname, '../../../../examples/ad-canvas-1200x628.json'), 'utf8'),
	) as { nodes: INode[] };
	const expandNode = example.nodes.find((node) => node.type === NODE_TYPES.expand)!;
	const resizeNode = example.nodes.find((node) => node.type === 'n8n-nodes-base.editImage')!;

	/** The example's Kling Expand node as saved, run in the engine against the simulator. */
	async function runExample(width: number, height: number) {
		const sim = simulator();
		const { options, ...saved } = expandNode.parameters as { options: object };
		const result = await runWorkflow(
			expandWorkflow({ ...saved, options: { ...options, ...FAST_WAIT } } as never, {
				typeVersion: expandNode.typeVersion,
			}),
			{
				startNode: EXPAND_NODE,
				input: [binaryItem(await testImage(width, height))],
				credentials: simulatorCredentials(sim.url),
			},
		);
		expect(result.error).toBeUndefined();
		const [item] = result.output(EXPAND_NODE);
		return { json: item.json, size: await raw(Buffer.from(item.binary!.data.data, 'base64')) };
	}

	it('makes exactly 1200×628 from a photo that fits', async () => {
		const { json, size } = await runExample(600, 500);
		expect([size.width, size.height]).toEqual([1200, 628]);
		expect(json.expansion).toMatchObject({ exact: true, original_x: 0 });
	});

	it('makes the 1200×628 shape from a larger photo, and the Edit Image step resizes to the size asked for', async () => {
		const { json, size } = await runExample(1000, 1000);
		expect([size.width, size.height]).toEqual([1911, 1000]);
		expect(json.expansion).toMatchObject({
			exact: false,
			requested_width: 1200,
			requested_height: 628,
		});
		expect(resizeNode.parameters).toMatchObject({
			operation: 'resize',
			width: '={{ $json.expansion.requested_width }}',
			height: '={{ $json.expansion.requested_height }}',
			resizeOption: 'ignoreAspectRatio',
		});
	});
});
