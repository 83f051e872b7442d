/**
 * The workflows `npm run bench:n8n` runs in real n8n: the package's Submit and Wait (Poll and Callback)
 * and the loop a user builds from n8n's own nodes. Each starts at a production webhook whose JSON
 * body says what to run (which files, the concurrency C, the loop's wait), so one published
 * workflow serves every row.
 */
import { nodeParameters } from '../../test/bench/floor';
import type { CredentialFile, WorkflowFile, WorkflowNode } from './n8n';
import { EXPAND_TYPE } from './workflows';

/** What a bench webhook is posted: a glob of input files and the run's settings. */
export interface BenchRequest {
	/** Read/Write Files from Disk's file selector: one item per matching file. */
	files: string;
	concurrency: number;
	download: boolean;
	/** The loop's simulator (its HTTP Request nodes name the URL; the credential only signs). */
	baseUrl?: string;
}

export const BENCH_PATHS = {
	node: 'kling-bench-node',
	callback: 'kling-bench-callback',
	loop1: 'kling-bench-loop-1s',
	loop5: 'kling-bench-loop-5s',
} as const;

export type BenchWorkflow = keyof typeof BENCH_PATHS;

const body = (field: keyof BenchRequest) => `$('Webhook').first().json.body.${field}`;

/** A Kling credential per simulator; `data` as scripts/n8n/workflows.ts simulatorCredential gives it. */
export function benchCredential(id: string, base: CredentialFile, baseUrl: string): CredentialFile {
	return { ...base, id, name: `Kling bench ${id}`, data: { ...base.data, baseUrl } };
}

/** The three bench workflows, the package's on `nodeCredential`, the loop on `loopCredential`. */
export function benchWorkflows(
	nodeCredential: CredentialFile,
	loopCredential: CredentialFile,
): Record<BenchWorkflow, WorkflowFile> {
	const credentialOf = (credential: CredentialFile) => ({
		klingApi: { id: credential.id, name: credential.name },
	});
	const expand = (waitMode: 'poll' | 'callback'): WorkflowNode => {
		const parameters = nodeParameters(
			`={{ ${body('concurrency')} }}`,
			`={{ ${body('download')} }}`,
		);
		return {
			id: `bench-${waitMode}-expand`,
			name: 'Kling Expand',
			type: EXPAND_TYPE,
			typeVersion: 1,
			position: [440, 0],
			parameters: {
				...parameters,
				waitMode,
				options: { ...parameters.options, timeout: 600 },
			},
			credentials: credentialOf(nodeCredential),
		};
	};
	return {
		node: inLine('benchNode', 'Bench: Kling Expand, Submit and Wait (Poll)', [
			webhook(BENCH_PATHS.node),
			readFiles(),
			expand('poll'),
		]),
		callback: inLine('benchCallback', 'Bench: Kling Expand, Submit and Wait (Callback)', [
			webhook(BENCH_PATHS.callback),
			readFiles(),
			expand('callback'),
		]),
		loop1: pollLoop('benchLoop1', BENCH_PATHS.loop1, 1, credentialOf(loopCredential)),
		loop5: pollLoop('benchLoop5', BENCH_PATHS.loop5, 5, credentialOf(loopCredential)),
	};
}

function webhook(path: string): WorkflowNode {
	return {
		id: `${path}-webhook`,
		name: 'Webhook',
		type: 'n8n-nodes-base.webhook',
		typeVersion: 2,
		position: [0, 0],
		webhookId: path,
		parameters: { httpMethod: 'POST', path, responseMode: 'onReceived', options: {} },
	};
}

function readFiles(): WorkflowNode {
	return {
		id: 'bench-read',
		name: 'Read Images',
		type: 'n8n-nodes-base.readWriteFile',
		typeVersion: 1.1,
		position: [220, 0],
		parameters: { fileSelector: `={{ ${body('files')} }}`, options: {} },
	};
}

/** Connections that run the nodes one after another. */
function inLine(id: string, name: string, nodes: WorkflowNode[]): WorkflowFile {
	const connections: Record<string, unknown> = {};
	for (let index = 0; index + 1 < nodes.length; index++)
		connections[nodes[index].name] = {
			main: [[{ node: nodes[index + 1].name, type: 'main', index: 0 }]],
		};
	return { id, name, active: false, settings: { executionOrder: 'v1' }, connections, nodes };
}

/**
 * Loop Over Items (batches of C) → Extract From File (the image as base64) → HTTP Request create
 * (one per item, all at once) → Wait → HTTP Request query (one per item) → If every task of the
 * batch ended, else back to Wait → HTTP Request download (response as a file) → next batch.
 */
function pollLoop(
	id: string,
	path: string,
	waitSeconds: number,
	credentials: WorkflowNode['credentials'],
): WorkflowFile {
	const endpoint = `={{ ${body('baseUrl')} }}/v1/images/editing/expand`;
	const http = (
		name: string,
		x: number,
		parameters: Record<string, unknown>,
		signed = true,
	): WorkflowNode => ({
		id: `${id}-${name.toLowerCase().replace(/\W+/g, '-')}`,
		name,
		type: 'n8n-nodes-base.httpRequest',
		typeVersion: 4.2,
		position: [x, 0],
		parameters: {
			...(signed && { authentication: 'predefinedCredentialType', nodeCredentialType: 'klingApi' }),
			options: {},
			...parameters,
		},
		...(signed && { credentials }),
	});
	const ratio = 0.1;
	const nodes: WorkflowNode[] = [
		webhook(path),
		readFiles(),
		{
			id: `${id}-batches`,
			name: 'Loop Over Items',
			type: 'n8n-nodes-base.splitInBatches',
			typeVersion: 3,
			position: [440, 0],
			parameters: { batchSize: `={{ ${body('concurrency')} }}`, options: {} },
		},
		{
			id: `${id}-extract`,
			name: 'Image To Base64',
			type: 'n8n-nodes-base.extractFromFile',
			typeVersion: 1,
			position: [660, 0],
			parameters: { operation: 'binaryToPropery', binaryPropertyName: 'data', options: {} },
		},
		http('Create Task', 880, {
			method: 'POST',
			url: endpoint,
			sendBody: true,
			specifyBody: 'json',
			jsonBody:
				`={{ JSON.stringify({ image: $json.data, up_expansion_ratio: ${ratio}, ` +
				`down_expansion_ratio: ${ratio}, left_expansion_ratio: ${ratio}, ` +
				`right_expansion_ratio: ${ratio}, n: 1 }) }}`,
		}),
		{
			id: `${id}-wait`,
			name: 'Wait',
			type: 'n8n-nodes-base.wait',
			typeVersion: 1.1,
			position: [1100, 0],
			webhookId: `${path}-wait`,
			parameters: { resume: 'timeInterval', amount: waitSeconds, unit: 'seconds' },
		},
		http('Query Task', 1320, {
			method: 'GET',
			url: `${endpoint}/{{ $json.data.task_id }}`,
		}),
		{
			id: `${id}-if`,
			name: 'All Ended',
			type: 'n8n-nodes-base.if',
			typeVersion: 2,
			position: [1540, 0],
			parameters: {
				conditions: {
					options: { caseSensitive: true, leftValue: '', typeValidation: 'strict' },
					conditions: [
						{
							id: 'all-ended',
							leftValue:
								"={{ $input.all().every((item) => ['succeed', 'failed'].includes(item.json.data.task_status)) }}",
							rightValue: '',
							operator: { type: 'boolean', operation: 'true', singleValue: true },
						},
					],
					combinator: 'and',
				},
				options: {},
			},
		},
		http(
			'Download Image',
			1760,
			{
				method: 'GET',
				url: '={{ $json.data.task_result.images[0].url }}',
				options: { response: { response: { responseFormat: 'file' } } },
			},
			false,
		),
	];
	const to = (node: string) => [{ node, type: 'main', index: 0 }];
	const connections = {
		Webhook: { main: [to('Read Images')] },
		'Read Images': { main: [to('Loop Over Items')] },
		// Loop Over Items: output 0 is "done", output 1 the next batch.
		'Loop Over Items': { main: [[], to('Image To Base64')] },
		'Image To Base64': { main: [to('Create Task')] },
		'Create Task': { main: [to('Wait')] },
		Wait: { main: [to('Query Task')] },
		'Query Task': { main: [to('All Ended')] },
		'All Ended': { main: [to('Download Image'), to('Wait')] },
		'Download Image': { main: [to('Loop Over Items')] },
	};
	return {
		id,
		name: `Bench: Loop Over Items → HTTP Request create → Wait ${waitSeconds} s → query → If all ended → download`,
		active: false,
		settings: { executionOrder: 'v1' },
		connections,
		nodes,
	};
}
