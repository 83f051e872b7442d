import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { SIMULATOR_DEFAULT_KEYS } from '../../test/simulator';
import { EXAMPLES_DIR, PACKAGE_NAME } from './config';
import type { CredentialFile, WorkflowFile, WorkflowNode } from './n8n';

export const EXPAND_TYPE = `${PACKAGE_NAME}.klingExpand`;
export const TRIGGER_TYPE = `${PACKAGE_NAME}.klingExpandTrigger`;

export const CREDENTIAL = { id: 'klingSimulatorCred', name: 'Kling simulator' };

/** The placeholders the examples carry, which the test replaces with its own folder and hosts. */
const EXAMPLE_FILES_DIR = '/home/node/.n8n-files';
const EXAMPLE_N8N_URL = 'https://your-n8n.example.com';
const EXAMPLE_IMAGE_URL = 'https://example.com/photo.jpg';

/** Tasks with this prompt are failed by the simulator (see failedTask). */
export const FAILING_PROMPT = 'e2e: this task must fail';

/** The queue-mode workflow's items are prompted `queue item <index>`; the simulator gives them long durations. */
export const QUEUE_PROMPT = 'queue item ';
/** More items than the simulator's account has slots (QUEUE_SLOT_LIMIT): the batch must wait for slots to free. */
export const QUEUE_ITEMS = 12;
/** The simulated account's concurrency limit (1303 above it), for every phase; one task at a time elsewhere. */
export const QUEUE_SLOT_LIMIT = 5;
export const QUEUE_WEBHOOK_PATH = 'kling-queue-e2e';
/** The production webhook of the workflow whose callback-mode node is followed by a Wait node (an approval step). */
export const APPROVAL_WEBHOOK_PATH = 'kling-approval-e2e';
export const APPROVAL_EXPAND_NODE_ID = 'testApproval-1';
/** The crash workflow's production webhook, and its items' prompts (`crash item <index>`). */
export const CRASH_WEBHOOK_PATH = 'kling-crash-e2e';
export const CRASH_PROMPT = 'crash item ';
/** The queue-mode crash workflow's production webhook, and its items' prompts (`queue crash <run> <index>`). */
export const QUEUE_CRASH_WEBHOOK_PATH = 'kling-queue-crash-e2e';
export const QUEUE_CRASH_PROMPT = 'queue crash ';
/** A webhook that answers with List Tasks' output for the external-id prefix it is posted. */
export const LIST_BY_PREFIX_PATH = 'kling-list-by-prefix-e2e';
/** Items before this one take 3 s; from it on (the last wave) they take long, ending in reverse order. */
const QUEUE_LONG_FROM = 7;

/**
 * Items 0–6 take 3 s each, so the worker, holding the 5 slots, submits the last items after two short waves
 * (~7 s). Items 7–11 take 30 s − 3 s per item (30, 27, 24, 21, 18; processing from half-way): they end in
 * reverse order, long after the execution went to sleep and its worker was stopped. Every other task takes 1 s.
 */
export function simulatedDurationMs(prompt: unknown): number {
	const index =
		typeof prompt === 'string' && prompt.startsWith(QUEUE_PROMPT)
			? Number(prompt.slice(QUEUE_PROMPT.length))
			: NaN;
	if (!Number.isInteger(index)) return 1000;
	return index < QUEUE_LONG_FROM ? 3000 : (30 - 3 * (index - QUEUE_LONG_FROM)) * 1000;
}

/** A klingApi credential for the simulator: access key + secret key, callbacks signed with the simulator's secret. */
export function simulatorCredential(simulatorUrl: string): CredentialFile {
	const keys = SIMULATOR_DEFAULT_KEYS;
	return {
		...CREDENTIAL,
		type: 'klingApi',
		data: {
			provider: 'kling',
			authMode: 'accessKey',
			accessKey: keys.accessKey,
			secretKey: keys.secretKey,
			region: 'singapore',
			baseUrl: simulatorUrl,
			webhookSecret: keys.webhookSecret,
		},
	};
}

export interface TestWorkflows {
	localImageToDisk: WorkflowFile;
	aspectRatio: WorkflowFile;
	getTask: WorkflowFile;
	invalidRatio: WorkflowFile;
	failedTask: WorkflowFile;
	dryRun: WorkflowFile;
	submitWithCallback: WorkflowFile;
	triggerToSlack: WorkflowFile;
	callbackInQueueMode: WorkflowFile;
	callbackThenApproval: WorkflowFile;
	crashRecovery: WorkflowFile;
	crashInQueueMode: WorkflowFile;
	listByPrefix: WorkflowFile;
}

export interface WorkflowSettings {
	/** Replaces the examples' /home/node/.n8n-files (must be inside N8N_RESTRICT_FILE_ACCESS_TO). */
	filesDir: string;
	/** Where the submit-with-callback example's image is served (the simulator fetches only from 127.0.0.1). */
	imageUrl: string;
	/** The n8n server's base URL, for the callback URL. */
	n8nUrl: string;
	/** Switch the Slack node off (there is no Slack workspace here); false shows the example as users import it. */
	disableSlack: boolean;
}

/** The three examples, adapted only in paths, hosts and credentials, plus test-only workflows for the other checks. */
export function testWorkflows(settings: WorkflowSettings): TestWorkflows {
	const inputFile = join(settings.filesDir, 'kling', 'input.png');
	return {
		localImageToDisk: example('local-image-to-disk.json', 'exampleLocalToDisk', settings),
		submitWithCallback: example('submit-with-callback.json', 'exampleSubmitCallbk', settings),
		// A disabled node passes its input through, so the trigger's execution can succeed without Slack.
		triggerToSlack: example('trigger-to-slack.json', 'exampleTriggerSlack', settings, (node) =>
			settings.disableSlack && node.type === 'n8n-nodes-base.slack'
				? { ...node, disabled: true }
				: node,
		),

		aspectRatio: chain(
			'testAspectRatio',
			'Kling Expand: aspect-ratio helper (9:16, 3× area)',
			inputFile,
			[expandNode('Expand to 9:16', { targetAspectRatio: '9:16', areaMultiplier: 3 })],
		),
		getTask: chain('testGetTask', 'Kling Expand: Get Task by external ID', inputFile, [
			expandNode('Submit and Wait', {
				downloadImages: false,
				options: { externalTaskId: '=e2e-get-task-{{ $execution.id }}' },
			}),
			expandNode('Get Task', {
				operation: 'getTask',
				findBy: 'externalTaskId',
				taskId: '={{ $json.external_task_id }}',
				downloadImages: true,
				options: {},
			}),
		]),
		invalidRatio: chain('testInvalidRatio', 'Kling Expand: invalid expansion ratio', inputFile, [
			expandNode('Expand by Ratios', {
				expansionMode: 'ratios',
				upExpansionRatio: 2.4,
				downExpansionRatio: 0.1,
				leftExpansionRatio: 0.1,
				rightExpansionRatio: 0.1,
			}),
		]),
		failedTask: chain('testFailedTask', 'Kling Expand: task that fails', inputFile, [
			expandNode('Expand', { prompt: FAILING_PROMPT }),
		]),
		// A new node (version 1.1) with Dry Run on and no credential at all.
		dryRun: chain('testDryRun', 'Kling Expand: dry run, 1200x628, no credential', inputFile, [
			{
				...expandNode('Dry Run 1200x628', {
					operation: 'submit',
					dryRun: true,
					expansionMode: 'canvasSize',
					canvasSize: '1200x628',
					placement: 'left',
				}),
				typeVersion: 1.1,
				credentials: undefined,
			},
		]),
		callbackInQueueMode: callbackInQueueMode(),
		callbackThenApproval: callbackThenApproval(),
		crashRecovery: crashRecovery(),
		crashInQueueMode: crashInQueueMode(),
		listByPrefix: listByPrefix(),
	};
}

/** Webhook (POST {images: [{url, prompt}]}) → Split Out → Kling Expand, callback wait mode → No Op. */
function callbackInQueueMode(): WorkflowFile {
	const id = 'testQueueCallback';
	const nodes: WorkflowNode[] = [
		webhookNode(`${id}-0`, QUEUE_WEBHOOK_PATH),
		{
			id: `${id}-1`,
			name: 'Split Out',
			type: 'n8n-nodes-base.splitOut',
			typeVersion: 1,
			position: [220, 0],
			parameters: { fieldToSplitOut: 'body.images', options: {} },
		},
		{
			id: `${id}-2`,
			...expandNode('Kling Expand', {
				waitMode: 'callback',
				imageSource: 'url',
				imageUrl: '={{ $json.url }}',
				prompt: '={{ $json.prompt }}',
				expansionMode: 'ratios',
				upExpansionRatio: 0.25,
				downExpansionRatio: 0.25,
				leftExpansionRatio: 0.1,
				rightExpansionRatio: 0.1,
				options: { timeout: 300 },
			}),
			position: [440, 0],
		},
		{
			id: `${id}-3`,
			name: 'After Expand',
			type: 'n8n-nodes-base.noOp',
			typeVersion: 1,
			position: [660, 0],
			parameters: {},
		},
	];
	return {
		id,
		name: `Kling Expand: callback wait mode, ${QUEUE_ITEMS} items, queue mode`,
		active: false,
		settings: { executionOrder: 'v1' },
		connections: inLine(nodes),
		nodes,
	};
}

/**
 * Webhook (POST {url, prompt}) → Kling Expand, callback wait mode → Approval, n8n's Wait node "On
 * Webhook Call": the approval step Kling's callback URL must not be able to resume.
 */
function callbackThenApproval(): WorkflowFile {
	const id = 'testApproval';
	const nodes: WorkflowNode[] = [
		webhookNode(`${id}-0`, APPROVAL_WEBHOOK_PATH),
		{
			id: APPROVAL_EXPAND_NODE_ID,
			...expandNode('Kling Expand', {
				waitMode: 'callback',
				imageSource: 'url',
				imageUrl: '={{ $json.body.url }}',
				prompt: '={{ $json.body.prompt }}',
				downloadImages: false,
				options: { timeout: 120 },
			}),
			position: [220, 0],
		},
		{
			id: `${id}-2`,
			name: 'Approval',
			type: 'n8n-nodes-base.wait',
			typeVersion: 1.1,
			position: [440, 0],
			webhookId: 'kling-approval-wait',
			parameters: { resume: 'webhook', httpMethod: 'POST', options: {} },
		},
	];
	return {
		id,
		name: 'Kling Expand: callback wait mode, then an approval step (Wait On Webhook Call)',
		active: false,
		settings: { executionOrder: 'v1' },
		connections: inLine(nodes),
		nodes,
	};
}

/** A production webhook node (POST, at `path`), answering as `responseMode` says. */
function webhookNode(id: string, path: string, responseMode = 'onReceived'): WorkflowNode {
	return {
		id,
		name: 'Webhook',
		type: 'n8n-nodes-base.webhook',
		typeVersion: 2,
		position: [0, 0],
		webhookId: path,
		parameters: {
			httpMethod: 'POST',
			path,
			responseMode,
			...(responseMode === 'lastNode' ? { responseData: 'allEntries' } : {}),
			options: {},
		},
	};
}

/**
 * Webhook (POST {images: [{url, prompt}]}) → Split Out → Kling Expand, Submit and Wait, one item at
 * a time, with Reuse Task for Same Input Within (Hours) on: the workflows n8n (Poll) and a
 * queue-mode worker (Callback) are killed in.
 */
function crashWorkflow(id: string, path: string, name: string, wait: object): WorkflowFile {
	const nodes: WorkflowNode[] = [
		webhookNode(`${id}-0`, path),
		{
			id: `${id}-1`,
			name: 'Split Out',
			type: 'n8n-nodes-base.splitOut',
			typeVersion: 1,
			position: [220, 0],
			parameters: { fieldToSplitOut: 'body.images', options: {} },
		},
		{
			id: `${id}-2`,
			...expandNode('Kling Expand', {
				...wait,
				imageSource: 'url',
				imageUrl: '={{ $json.url }}',
				prompt: '={{ $json.prompt }}',
				expansionMode: 'ratios',
				upExpansionRatio: 0.25,
				downExpansionRatio: 0.25,
				leftExpansionRatio: 0.1,
				rightExpansionRatio: 0.1,
				downloadImages: false,
				options: { concurrency: 1, reuseWithinHours: 1, timeout: 120 },
			}),
			position: [440, 0],
		},
	];
	return {
		id,
		name,
		active: false,
		settings: { executionOrder: 'v1' },
		connections: inLine(nodes),
		nodes,
	};
}

const crashRecovery = () =>
	crashWorkflow(
		'testCrashRecovery',
		CRASH_WEBHOOK_PATH,
		'Kling Expand: crash mid-batch, then Retry',
		{},
	);

const crashInQueueMode = () =>
	crashWorkflow(
		'testQueueCrash',
		QUEUE_CRASH_WEBHOOK_PATH,
		'Kling Expand: callback wait mode, worker killed mid-batch, then Retry',
		{ waitMode: 'callback' },
	);

/** Webhook (POST {prefix}) → Kling Expand List Tasks, External Task ID Starts With the prefix; answers with the tasks. */
function listByPrefix(): WorkflowFile {
	const id = 'testListByPrefix';
	const nodes: WorkflowNode[] = [
		webhookNode(`${id}-0`, LIST_BY_PREFIX_PATH, 'lastNode'),
		{
			id: `${id}-1`,
			name: 'List Tasks',
			type: EXPAND_TYPE,
			typeVersion: 1,
			position: [220, 0],
			parameters: {
				operation: 'listTasks',
				returnAll: true,
				options: { externalTaskIdPrefix: '={{ $json.body.prefix }}' },
			},
			credentials: { klingApi: { ...CREDENTIAL } },
		},
	];
	return {
		id,
		name: "Kling Expand: List Tasks by an execution's external-id prefix",
		active: false,
		settings: { executionOrder: 'v1' },
		connections: inLine(nodes),
		nodes,
	};
}

function example(
	file: string,
	id: string,
	settings: WorkflowSettings,
	adapt: (node: WorkflowNode) => WorkflowNode = (node) => node,
): WorkflowFile {
	const text = readFileSync(join(EXAMPLES_DIR, file), 'utf8')
		.replaceAll(EXAMPLE_FILES_DIR, settings.filesDir)
		.replaceAll(EXAMPLE_N8N_URL, settings.n8nUrl)
		.replaceAll(EXAMPLE_IMAGE_URL, settings.imageUrl);
	const workflow = JSON.parse(text) as WorkflowFile;
	const nodes = workflow.nodes.map((node) =>
		adapt(node.type === EXPAND_TYPE || node.type === TRIGGER_TYPE ? withCredential(node) : node),
	);
	return { ...workflow, id, nodes, active: false };
}

function withCredential(node: WorkflowNode): WorkflowNode {
	return { ...node, credentials: { klingApi: { ...CREDENTIAL } } };
}

/** Submit and Wait with the node's defaults (binary input, 16:9 at 2×, download), overridden by `parameters`. */
function expandNode(
	name: string,
	parameters: Record<string, unknown>,
): Omit<WorkflowNode, 'id' | 'position'> {
	return {
		name,
		type: EXPAND_TYPE,
		typeVersion: 1,
		parameters: {
			operation: 'submitAndWait',
			imageSource: 'binary',
			binaryPropertyName: 'data',
			expansionMode: 'aspectRatio',
			options: {},
			...parameters,
		},
		credentials: { klingApi: { ...CREDENTIAL } },
	};
}

/** Manual Trigger → Read/Write Files from Disk (read `inputFile`) → the given nodes, one after another. */
function chain(
	id: string,
	name: string,
	inputFile: string,
	steps: Omit<WorkflowNode, 'id' | 'position'>[],
): WorkflowFile {
	const nodes: Omit<WorkflowNode, 'id' | 'position'>[] = [
		{ name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, parameters: {} },
		{
			name: 'Read Image',
			type: 'n8n-nodes-base.readWriteFile',
			typeVersion: 1.1,
			parameters: { fileSelector: inputFile, options: {} },
		},
		...steps,
	];
	return {
		id,
		name,
		active: false,
		settings: { executionOrder: 'v1' },
		connections: inLine(nodes),
		nodes: nodes.map((node, index) => ({
			...node,
			id: `${id}-${index}`,
			position: [index * 220, 0],
		})),
	};
}

/** Connections that run the nodes one after another. */
function inLine(nodes: { name: string }[]): Record<string, unknown> {
	const connections: Record<string, unknown> = {};
	for (let index = 0; index + 1 < nodes.length; index++) {
		connections[nodes[index].name] = {
			main: [[{ node: nodes[index + 1].name, type: 'main', index: 0 }]],
		};
	}
	return connections;
}
