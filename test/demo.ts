/**
 * `npm run demo`: the package's main job, offline. Starts the Kling simulator, runs the Kling Expand
 * node (Submit and Wait, binary input, aspect-ratio mode) in n8n's real engine on a local image, and
 * writes the expanded images to demo-output/. The Read/Write File steps of examples/local-image-to-disk.json
 * are done by this script: they are n8n-nodes-base nodes, which cannot be installed beside n8n-core 2.41 here.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { INodeParameters } from 'n8n-workflow';

import { runWorkflow } from './harness/engine';
import { binaryItem, expandWorkflow, EXPAND_NODE, simulatorCredentials } from './harness/workflows';
import { makeTestImage, startSimulator } from './simulator';

const root = path.resolve(__dirname, '..');
const outputDir = path.join(root, 'demo-output');
const example = path.join(root, 'examples', 'local-image-to-disk.json');

/** The Kling Expand node's parameters from the example workflow users import, so the demo runs what they run. */
function exampleParameters(): INodeParameters {
	const fallback: INodeParameters = {
		operation: 'submitAndWait',
		imageSource: 'binary',
		expansionMode: 'aspectRatio',
		targetAspectRatio: '16:9',
		areaMultiplier: 2,
	};
	if (!existsSync(example)) return fallback;
	const workflow = JSON.parse(readFileSync(example, 'utf8')) as {
		nodes: Array<{ type: string; parameters: INodeParameters }>;
	};
	return workflow.nodes.find((node) => node.type.endsWith('.klingExpand'))?.parameters ?? fallback;
}

async function main() {
	mkdirSync(outputDir, { recursive: true });
	const inputPath = path.join(outputDir, 'input.png');
	writeFileSync(
		inputPath,
		await makeTestImage({ width: 640, height: 480, format: 'png', seed: 7 }),
	);
	const sim = await startSimulator({ taskDurationMs: 1500 });
	try {
		const parameters = { ...exampleParameters(), options: { pollInterval: 0.2 } };
		console.log(
			`Kling simulator on ${sim.url}; expanding ${path.relative(root, inputPath)} (640×480) with ${JSON.stringify({ ...parameters, options: undefined })}`,
		);
		const started = Date.now();
		const result = await runWorkflow(expandWorkflow(parameters), {
			startNode: EXPAND_NODE,
			input: [binaryItem(readFileSync(inputPath), 'input.png')],
			credentials: simulatorCredentials(sim.url),
		});
		if (result.error) throw new Error(`${result.error.message}\n${result.error.description ?? ''}`);
		for (const item of result.output(EXPAND_NODE)) {
			const binary = item.binary!.data;
			const file = path.join(outputDir, binary.fileName!);
			writeFileSync(file, Buffer.from(binary.data, 'base64'));
			const image = item.json.image as { width: number; height: number };
			console.log(
				`task ${item.json.task_id} ${item.json.task_status}: wrote ${path.relative(root, file)} (${image.width}×${image.height})`,
			);
		}
		console.log(
			`Done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${sim.stats().accepted} task, ${sim.requests.length} requests to the simulator. Images are in ${outputDir}`,
		);
	} finally {
		await sim.close();
	}
}

main().catch((error: Error) => {
	console.error(error.message);
	process.exit(1);
});
