import sharp from 'sharp';

import { runWorkflow } from '../../harness/engine';
import { binaryItem, expandWorkflow, EXPAND_NODE, simulatorCredentials } from '../../harness/workflows';
import { makeTestImage, startSimulator } from '../../simulator';
import type { Simulator } from '../../simulator';

let sim: Simulator;
beforeAll(async () => {
	sim = await startSimulator({ taskDurationMs: 200 });
});
afterAll(async () => await sim.close());

it('spike: submit and wait end to end', async () => {
	const image = await makeTestImage({ width: 400, height: 300, format: 'png' });
	const result = await runWorkflow(
		expandWorkflow({ operation: 'submitAndWait', imageSource: 'binary', expansionMode: 'ratios', upExpansionRatio: 0.5, downExpansionRatio: 0.5, leftExpansionRatio: 0.25, rightExpansionRatio: 0.25, options: { pollInterval: 0.05 } }),
		{ startNode: EXPAND_NODE, input: [binaryItem(image)], credentials: simulatorCredentials(sim.url) },
	);
	console.log(JSON.stringify(result.error), JSON.stringify(result.output(EXPAND_NODE).map((i) => i.json), null, 1));
	const out = result.output(EXPAND_NODE)[0];
	const bytes = Buffer.from(out.binary!.data.data, 'base64');
	const meta = await sharp(bytes).metadata();
	expect([meta.width, meta.height]).toEqual([600, 600]);
});
