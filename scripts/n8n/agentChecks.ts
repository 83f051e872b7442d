import type { Check } from './checks';
import { startChatModelStub, TOOL_ARGUMENTS, type ChatModelStub } from './chatModelStub';
import type { CredentialFile, ExecuteOutcome, WorkflowFile } from './n8n';
import { seconds } from './processes';
import { CREDENTIAL, EXPAND_TYPE } from './workflows';

const AGENT_WORKFLOW_ID = 'testAiAgentTool';
const OPENAI_CREDENTIAL = { id: 'chatModelStubCred', name: 'OpenAI-compatible stub on 127.0.0.1' };
const TOOL_NODE = 'Kling Expand';
const AGENT_NODE = 'AI Agent';
const ASPECT_RATIO = '16:9';

/**
 * n8n's AI Agent, driven by the OpenAI Chat Model pointed at a local stub (chatModelStub.ts), calls Kling
 * Expand as a tool: the node type n8n generates for `usableAsTool` nodes, its image URL and aspect ratio
 * filled by the model through `$fromAI()`, Submit and Wait in Poll mode.
 */
export const agentChecks: Check[] = [
	{
		name: 'AI Agent + OpenAI Chat Model (local stub) calls Kling Expand as a tool with $fromAI() parameters; set to callback mode, the tool polls instead and says so; it answers JSON, the agent reports task, URL and size',
		async run({ n8n, simulator, imageUrl }) {
			const stub = await startChatModelStub();
			try {
				await n8n.importCredentials([openAiCredential(stub.url)]);
				await n8n.importWorkflows([agentWorkflow(imageUrl)]);
				const tasksBefore = new Set(simulator.tasks.keys());
				const outcome = await n8n.execute(AGENT_WORKFLOW_ID);
				if (!outcome.ok)
					throw new Error(
						`the agent's run failed${outcome.error?.node ? ` in "${outcome.error.node}"` : ''}: ${outcome.error?.message ?? `exit ${outcome.exit.code}`}${stubErrors(stub)}`,
					);

				const created = [...simulator.tasks.values()].filter(
					(task) => !tasksBefore.has(task.task_id),
				);
				if (created.length !== 1)
					throw new Error(`the tool call created ${created.length} Kling tasks; expected 1`);
				const [task] = created;
				if (task.createBody.image !== imageUrl)
					throw new Error(
						`Kling was sent the image ${String(task.createBody.image)}; the model passed ${imageUrl}`,
					);
				const resultUrl = task.task_result?.images[0]?.url;
				if (task.task_status !== 'succeed' || !resultUrl)
					throw new Error(`task ${task.task_id} is ${task.task_status} with no result image`);
				const { width, height } = task.resultImageSize;
				if (Math.abs(width / height - 16 / 9) > 0.01)
					throw new Error(
						`the result is ${width}×${height}, not ${ASPECT_RATIO}: the aspect ratio from $fromAI() did not arrive`,
					);

				const toolJson = expectJsonToolOutput(outcome);
				const image = (
					toolJson.images as { url?: string; width?: number; height?: number }[] | undefined
				)?.[0];
				if (
					toolJson.task_id !== task.task_id ||
					image?.url !== resultUrl ||
					image.width !== width ||
					image.height !== height
				) {
					throw new Error(
						`the tool returned ${JSON.stringify({ task_id: toolJson.task_id, images: toolJson.images })}; expected task ${task.task_id}, ${resultUrl}, ${width}×${height}`,
					);
				}

				if (toolJson.wait_mode !== 'poll')
					throw new Error(
						`the tool's output has wait_mode ${JSON.stringify(toolJson.wait_mode)}: callback mode did not fall back to polling in the tool call`,
					);

				const answer = finalAnswer(outcome);
				for (const [what, expected] of [
					['task id', task.task_id],
					['result URL', resultUrl],
					['size', `${width}×${height}`],
				]) {
					if (!answer.includes(expected))
						throw new Error(`the agent's answer lacks the ${what} (${expected}): "${answer}"`);
				}
				expectTurns(stub);
				return `"${answer}" (${stub.requests.length} model calls; tool output JSON with no binary; n8n execute ${seconds(outcome.ms)})`;
			} finally {
				await stub.close();
			}
		},
	},
];

function openAiCredential(stubUrl: string): CredentialFile {
	// Not a key: the stub accepts any. The base URL is what sends the model's calls to 127.0.0.1.
	return {
		...OPENAI_CREDENTIAL,
		type: 'openAiApi',
		data: { apiKey: 'sk-local-stub', url: `${stubUrl}/v1`, header: false },
	};
}

/** Manual Trigger → AI Agent, with the OpenAI Chat Model (Chat Completions API) and Kling Expand as its tool. */
function agentWorkflow(imageUrl: string): WorkflowFile {
	const id = AGENT_WORKFLOW_ID;
	return {
		id,
		name: 'Kling Expand: as an AI Agent tool',
		active: false,
		settings: { executionOrder: 'v1' },
		nodes: [
			{
				id: `${id}-0`,
				name: 'Start',
				type: 'n8n-nodes-base.manualTrigger',
				typeVersion: 1,
				position: [0, 0],
				parameters: {},
			},
			{
				id: `${id}-1`,
				name: AGENT_NODE,
				type: '@n8n/n8n-nodes-langchain.agent',
				typeVersion: 3.1,
				position: [220, 0],
				parameters: {
					promptType: 'define',
					text: `Please expand the photo at ${imageUrl} to ${ASPECT_RATIO} and tell me where the result is.`,
					options: {},
				},
			},
			{
				id: `${id}-2`,
				name: 'OpenAI Chat Model',
				type: '@n8n/n8n-nodes-langchain.lmChatOpenAi',
				typeVersion: 1.3,
				position: [120, 220],
				parameters: {
					model: { __rl: true, mode: 'id', value: 'stub-model' },
					responsesApiEnabled: false,
					options: {},
				},
				credentials: { openAiApi: { ...OPENAI_CREDENTIAL } },
			},
			{
				id: `${id}-3`,
				name: TOOL_NODE,
				type: `${EXPAND_TYPE}Tool`,
				typeVersion: 1,
				position: [340, 220],
				parameters: {
					operation: 'submitAndWait',
					imageSource: 'url',
					imageUrl: `={{ $fromAI('${TOOL_ARGUMENTS.imageUrl}', 'The http(s) URL of the image to expand', 'string') }}`,
					expansionMode: 'aspectRatio',
					targetAspectRatio: `={{ $fromAI('${TOOL_ARGUMENTS.aspectRatio}', 'Width:height of the expanded image, such as 16:9', 'string') }}`,
					// An agent's tool call cannot sleep: callback mode falls back to polling and says so.
					waitMode: 'callback',
					downloadImages: true,
					options: {},
				},
				credentials: { klingApi: { ...CREDENTIAL } },
			},
		],
		connections: {
			Start: { main: [[{ node: AGENT_NODE, type: 'main', index: 0 }]] },
			'OpenAI Chat Model': {
				ai_languageModel: [[{ node: AGENT_NODE, type: 'ai_languageModel', index: 0 }]],
			},
			[TOOL_NODE]: { ai_tool: [[{ node: AGENT_NODE, type: 'ai_tool', index: 0 }]] },
		},
	};
}

/** The tool node ran once and put out one JSON item: no binary (a model gets only JSON). */
function expectJsonToolOutput(outcome: ExecuteOutcome): Record<string, unknown> {
	const runs = outcome.runData[TOOL_NODE] as
		| { data?: Record<string, ({ json: Record<string, unknown>; binary?: unknown }[] | null)[]> }[]
		| undefined;
	if (runs?.length !== 1)
		throw new Error(`the tool node ran ${runs?.length ?? 0} times; expected once`);
	const items = Object.values(runs[0].data ?? {}).flatMap((outputs) =>
		outputs.flatMap((items) => items ?? []),
	);
	if (items.length !== 1)
		throw new Error(
			`the tool node put out ${items.length} items; expected 1: ${JSON.stringify(runs[0].data).slice(0, 500)}`,
		);
	if (items[0].binary && Object.keys(items[0].binary).length)
		throw new Error(
			`the tool returned binary data (${Object.keys(items[0].binary).join(', ')}); an agent gets only JSON`,
		);
	return items[0].json;
}

/** The agent's last run's output text. */
function finalAnswer(outcome: ExecuteOutcome): string {
	const runs = outcome.runData[AGENT_NODE];
	const output = runs?.[runs.length - 1]?.data?.main?.[0]?.[0]?.json.output;
	if (typeof output !== 'string')
		throw new Error(
			`the agent put out no answer: ${JSON.stringify(runs?.[runs.length - 1]?.data).slice(0, 500)}`,
		);
	return output;
}

/** Two model calls: the first offered the tool, the second carried the tool's result. */
function expectTurns(stub: ChatModelStub): void {
	const [first, second] = stub.requests;
	if (
		stub.requests.length !== 2 ||
		!first.tools?.length ||
		!second.messages.some((message) => message.role === 'tool')
	) {
		throw new Error(
			`the model was called ${stub.requests.length} times; expected a call offering the tool, then one with its result`,
		);
	}
}

function stubErrors(stub: ChatModelStub): string {
	const refused = stub.refusals.length ? `; the stub refused: ${stub.refusals.join('; ')}` : '';
	return ` (the model was called ${stub.requests.length} times${refused})`;
}
