import '../../../harness/env';

import { ExecutionLifecycleHooks, SupplyDataContext } from 'n8n-core';
import type { INodeExecutionData, INodeType, IRunExecutionData } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import {
	buildAdditionalData,
	loadPackage,
	makeWorkflow,
	NODE_TYPES,
	runWorkflow,
} from '../../../harness/engine';
import { FAST_WAIT, requestsOf, testImage, useSimulator } from '../../../harness/fixtures';
import { expandWorkflow, EXPAND_NODE, simulatorCredentials } from '../../../harness/workflows';

const simulator = useSimulator({ taskDurationMs: 150 });

/**
 * Runs the node the way n8n runs a tool an AI agent calls: its execute() in a SupplyDataContext on an
 * ai_tool connection, whose isToolExecution() is true (n8n-core's makeHandleToolInvocation does the same).
 */
async function runAsTool(
	parameters: object,
	input: INodeExecutionData[],
	credentials: ReturnType<typeof simulatorCredentials>,
) {
	const { nodeTypes, credentialTypes } = await loadPackage();
	const workflow = await makeWorkflow(expandWorkflow(parameters as never));
	const node = workflow.getNode(EXPAND_NODE)!;
	const additionalData = buildAdditionalData(
		credentialTypes,
		credentials,
		new ExecutionLifecycleHooks('manual', '1', { id: workflow.id } as never),
		{ executionId: '4242' },
	);
	const runExecutionData = {
		version: 1,
		startData: {},
		resultData: { runData: {} },
		executionData: {
			contextData: {},
			metadata: {},
			nodeExecutionStack: [],
			waitingExecution: {},
			waitingExecutionSource: null,
		},
	} as unknown as IRunExecutionData;
	// A tool's input is the agent's arguments on the ai_tool connection, as makeHandleToolInvocation adds them.
	const context = new SupplyDataContext(
		workflow,
		node,
		additionalData,
		'manual',
		runExecutionData,
		0,
		input,
		{ [NodeConnectionTypes.AiTool]: [input] },
		NodeConnectionTypes.AiTool,
		{ node, data: { main: [input] }, source: null },
		[],
	);
	expect(context.isToolExecution()).toBe(true);
	const nodeType = nodeTypes.getByNameAndVersion(node.type, node.typeVersion) as INodeType;
	return {
		output: (await nodeType.execute!.call(context as never)) as INodeExecutionData[][],
		runExecutionData,
	};
}

/** Submit and Wait in callback mode, 1.2 expanded upwards, the images left at Kling. */
const callbackParameters = {
	operation: 'submitAndWait',
	waitMode: 'callback',
	imageSource: 'base64',
	imageBase64: '={{ $json.image }}',
	expansionMode: 'ratios',
	upExpansionRatio: 0.2,
	downExpansionRatio: 0,
	leftExpansionRatio: 0,
	rightExpansionRatio: 0,
	downloadImages: false,
	options: FAST_WAIT,
};

/** Each item as an AI agent's tool call returns it: polled, and saying so. */
function expectPolledAndSaidSo(items: INodeExecutionData[]) {
	expect(items).toHaveLength(2);
	for (const item of items) {
		expect(item.json).toMatchObject({
			task_status: 'succeed',
			wait_mode: 'poll',
			wait_mode_note: expect.stringMatching(/AI agent tool.*polling/),
		});
		expect(item.json.wait_mode_note).toMatch(/waited by polling Kling instead/);
		expect(item.json.wait_status).toBeUndefined();
	}
}

describe('Submit and Wait, callback mode, as an AI agent tool', () => {
	it('cannot sleep on an ai_tool connection, so it waits by polling and says so in the output', async () => {
		const sim = simulator();
		const images = [await testImage(400, 300), await testImage(420, 300)];
		const { output, runExecutionData } = await runAsTool(
			callbackParameters,
			[0, 1].map((index) => ({ json: { image: images[index].toString('base64') } })),
			simulatorCredentials(sim.url),
		);
		expectPolledAndSaidSo(output[0]);
		// Nothing was set up for a resume: no callback URL sent, no wait requested, and Kling was polled.
		expect(
			requestsOf(sim, 'create').map(
				(request) => (request.body as { callback_url?: string }).callback_url,
			),
		).toEqual([undefined, undefined]);
		expect(runExecutionData.waitTill).toBeUndefined();
		expect(requestsOf(sim, 'query').length + requestsOf(sim, 'list').length).toBeGreaterThan(0);
	});

	it('cannot sleep either when the agent has the engine run it as its tool type, <name>Tool', async () => {
		const sim = simulator();
		const images = [await testImage(400, 300), await testImage(420, 300)];
		const result = await runWorkflow(
			expandWorkflow(callbackParameters as never, { type: `${NODE_TYPES.expand}Tool` }),
			{
				startNode: EXPAND_NODE,
				input: images.map((image) => ({ json: { image: image.toString('base64') } })),
				credentials: simulatorCredentials(sim.url),
			},
		);
		expect(result.error).toBeUndefined();
		expectPolledAndSaidSo(result.output(EXPAND_NODE));
		expect(
			requestsOf(sim, 'create').map(
				(request) => (request.body as { callback_url?: string }).callback_url,
			),
		).toEqual([undefined, undefined]);
		expect(result.run.waitTill).toBeUndefined();
	});
});
