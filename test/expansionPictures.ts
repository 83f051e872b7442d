/**
 * `npm run pictures`: the README's pictures of each expansion mode. Runs the Kling Expand node in
 * n8n's engine against the simulator (which really expands the image, stretching its edge pixels
 * outward where Kling would paint), then outlines the original on the canvas it came back on, using
 * the position the node reported, and writes docs/expansion/<name>.png.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { INodeParameters } from 'n8n-workflow';
import sharp from 'sharp';

import { runWorkflow } from './harness/engine';
import { binaryItem, expandWorkflow, EXPAND_NODE, simulatorCredentials } from './harness/workflows';
import { startSimulator } from './simulator';

const outputDir = path.resolve(__dirname, '..', 'docs', 'expansion');
/** Each picture fits a 360 px square in the README; the canvases are scaled to it. */
const PICTURE_SIZE = 360;

/** A stand-in product photo: a bottle on a soft studio gradient, so the stretched margins read. */
async function productPhoto(width: number, height: number): Promise<Buffer> {
	const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
		<defs>
			<linearGradient id="bg" x1="0" y1="0" x2="0" y2="1">
				<stop offset="0" stop-color="#dfe9f3"/><stop offset="1" stop-color="#b8c7d9"/>
			</linearGradient>
			<linearGradient id="glass" x1="0" y1="0" x2="1" y2="0">
				<stop offset="0" stop-color="#1f6f5c"/><stop offset="0.5" stop-color="#3fb28f"/>
				<stop offset="1" stop-color="#1f6f5c"/>
			</linearGradient>
		</defs>
		<rect width="100%" height="100%" fill="url(#bg)"/>
		<rect y="${height * 0.78}" width="100%" height="${height * 0.22}" fill="#8d9db0"/>
		<ellipse cx="${width / 2}" cy="${height * 0.8}" rx="${width * 0.16}" ry="${height * 0.03}" fill="#6f7e90"/>
		<rect x="${width * 0.4}" y="${height * 0.3}" width="${width * 0.2}" height="${height * 0.5}" rx="${width * 0.04}" fill="url(#glass)"/>
		<rect x="${width * 0.46}" y="${height * 0.16}" width="${width * 0.08}" height="${height * 0.15}" fill="#1f6f5c"/>
		<rect x="${width * 0.455}" y="${height * 0.12}" width="${width * 0.09}" height="${height * 0.05}" fill="#c9a227"/>
		<rect x="${width * 0.42}" y="${height * 0.45}" width="${width * 0.16}" height="${height * 0.14}" fill="#f4efe1"/>
	</svg>`;
	return await sharp(Buffer.from(svg)).png().toBuffer();
}

interface Picture {
	name: string;
	input: [number, number];
	parameters: INodeParameters;
	typeVersion?: number;
}

const PICTURES: Picture[] = [
	{
		name: 'aspect-smallest-centre',
		input: [640, 480],
		parameters: { expansionMode: 'aspectRatio', targetAspectRatio: '16:9', canvasArea: 'smallest' },
	},
	{
		name: 'aspect-x3-left-edge',
		input: [480, 480],
		parameters: {
			expansionMode: 'aspectRatio',
			targetAspectRatio: '16:9',
			canvasArea: 'multiplier',
			areaMultiplier: 3,
			placement: 'left',
		},
	},
	{
		name: 'preset-story-bottom-third',
		input: [600, 600],
		parameters: {
			expansionMode: 'aspectRatio',
			aspectRatioPreset: '9:16',
			canvasArea: 'smallest',
			placement: 'custom',
			horizontalPosition: 0.5,
			verticalPosition: 0.67,
		},
	},
	{
		name: 'canvas-1200x628-left',
		input: [600, 500],
		parameters: { expansionMode: 'canvasSize', canvasSize: '1200x628', placement: 'left' },
	},
	{
		name: 'pixels-per-side',
		input: [500, 400],
		parameters: {
			expansionMode: 'pixels',
			upPixels: 100,
			downPixels: 0,
			leftPixels: 0,
			rightPixels: 300,
		},
	},
	{
		name: 'ratios-per-side',
		input: [500, 400],
		parameters: {
			expansionMode: 'ratios',
			upExpansionRatio: 0.25,
			downExpansionRatio: 0.25,
			leftExpansionRatio: 0.5,
			rightExpansionRatio: 0.5,
		},
	},
];

/** The expanded canvas with the original's rectangle drawn where the node said it is. */
async function outlined(
	canvas: Buffer,
	expansion: Record<string, number>,
	input: [number, number],
) {
	const { expected_width: width, expected_height: height } = expansion;
	const stroke = Math.max(3, Math.round(width / 200));
	const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
		<rect x="${expansion.original_x + stroke / 2}" y="${expansion.original_y + stroke / 2}"
			width="${input[0] - stroke}" height="${input[1] - stroke}" fill="none" stroke="#e8336d"
			stroke-width="${stroke}" stroke-dasharray="${stroke * 4} ${stroke * 3}"/>
	</svg>`;
	// sharp composites after it resizes, so outline first, then scale.
	const full = await sharp(canvas)
		.composite([{ input: Buffer.from(svg) }])
		.png()
		.toBuffer();
	return await sharp(full)
		.resize({ width: PICTURE_SIZE, height: PICTURE_SIZE, fit: 'inside' })
		.png()
		.toBuffer();
}

async function main() {
	mkdirSync(outputDir, { recursive: true });
	const sim = await startSimulator({ taskDurationMs: 50 });
	try {
		for (const picture of PICTURES) {
			const result = await runWorkflow(
				expandWorkflow(
					{
						operation: 'submitAndWait',
						imageSource: 'binary',
						...picture.parameters,
						options: { pollInterval: 0.05 },
					},
					{ typeVersion: picture.typeVersion ?? 1.1 },
				),
				{
					startNode: EXPAND_NODE,
					input: [binaryItem(await productPhoto(...picture.input))],
					credentials: simulatorCredentials(sim.url),
				},
			);
			if (result.error) throw new Error(`${picture.name}: ${result.error.message}`);
			const [item] = result.output(EXPAND_NODE);
			const expansion = item.json.expansion as Record<string, number>;
			const file = path.join(outputDir, `${picture.name}.png`);
			writeFileSync(
				file,
				await outlined(Buffer.from(item.binary!.data.data, 'base64'), expansion, picture.input),
			);
			console.log(
				`${picture.name}: ${picture.input.join('×')} → ${expansion.expected_width}×` +
					`${expansion.expected_height}, original at (${expansion.original_x}, ` +
					`${expansion.original_y}); ratios ${expansion.up} / ${expansion.down} / ` +
					`${expansion.left} / ${expansion.right}`,
			);
		}
	} finally {
		await sim.close();
	}
}

main().catch((error) => {
	console.error(error);
	process.exitCode = 1;
});
