import './env';

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseQueryString } from 'node:querystring';

import { ExecutionLifecycleHooks, HookContext, WebhookContext } from 'n8n-core';
import type {
	ICredentialDataDecryptedObject,
	IDataObject,
	INode,
	INodeParameters,
	INodeType,
	IWebhookDescription,
} from 'n8n-workflow';
import { Workflow } from 'n8n-workflow';

import type { RunResult, WorkflowSpec } from './engine';
import {
	buildAdditionalData,
	loadPackage,
	makeWorkflow,
	NODE_TYPES,
	runWorkflow,
	webhookDataFor,
} from './engine';

export const TRIGGER_NODE = 'Kling Expand Trigger';

/** A one-node workflow: the Kling Expand Trigger with these parameters. */
export function triggerWorkflow(
	parameters: INodeParameters = {},
	extra: Partial<INode> = {},
): WorkflowSpec {
	return {
		nodes: [
			{
				id: 'trigger',
				name: TRIGGER_NODE,
				type: NODE_TYPES.trigger,
				typeVersion: 1,
				position: [0, 0],
				webhookId: 'kling-callbacks',
				parameters,
				credentials: { klingApi: { id: '1', name: 'Kling' } },
				...extra,
			},
		],
		connections: {},
	};
}

/**
 * Publishes the workflow's trigger the way n8n's WebhookService registers a production webhook: in a
 * HookContext (mode trigger, activation "activate"), `checkExists`, then `create` when the webhook
 * does not exist yet. Resolves, or rejects with the error n8n would show in the editor.
 */
export async function activateTrigger(
	spec: WorkflowSpec,
	triggerName: string,
	credentials: Record<string, ICredentialDataDecryptedObject>,
): Promise<void> {
	const { nodeTypes, credentialTypes } = await loadPackage();
	const workflow = await makeWorkflow(spec);
	const node = workflow.getNode(triggerName);
	if (!node) throw new Error(`No node named ${triggerName}`);
	const nodeType = nodeTypes.getByNameAndVersion(node.type, node.typeVersion) as INodeType;
	const description = nodeType.description.webhooks![0] as IWebhookDescription;
	const methods = nodeType.webhookMethods?.[description.name as 'default'];
	if (!methods) throw new Error(`${node.type} has no webhook lifecycle`);
	const hooks = new ExecutionLifecycleHooks('trigger', '1', { id: workflow.id } as never);
	const additionalData = buildAdditionalData(credentialTypes, credentials, hooks);
	const webhookData = webhookDataFor(workflow.id, node.name, description, additionalData);
	const context = new HookContext(
		workflow,
		node,
		additionalData,
		'trigger',
		'activate',
		webhookData,
	);
	if (!(await methods.checkExists.call(context))) await methods.create.call(context);
}

export interface WebhookServer {
	/** The trigger's production URL on 127.0.0.1. */
	url: string;
	/** Every workflow run a delivery started, in the order they finished. */
	runs: RunResult[];
	/** Errors the node's webhook() threw; n8n answers those with a generic 500. */
	failures: Error[];
	/** The workflow's static data as n8n has saved it: what the next delivery starts from. */
	savedStaticData(): IDataObject;
	/** Resolves when `count` runs have finished (or the timeout passed) and every delivery so far is handled. */
	waitForRuns(count: number, timeoutMs?: number): Promise<RunResult[]>;
	/** Resolves when every delivery received so far has been handled, the runs it started included. */
	settled(): Promise<void>;
	close(): Promise<void>;
}

/** The little of Express's response that n8n's webhook handling and nodes use. */
export function expressLikeResponse(res: ServerResponse) {
	const response = {
		statusCode: 200,
		get headersSent() {
			return res.headersSent;
		},
		status(code: number) {
			response.statusCode = code;
			return response;
		},
		json(body: unknown) {
			res
				.writeHead(response.statusCode, { 'content-type': 'application/json' })
				.end(JSON.stringify(body));
			return response;
		},
		send(body: unknown) {
			res
				.writeHead(response.statusCode)
				.end(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
			return response;
		},
		end() {
			res.writeHead(response.statusCode).end();
			return response;
		},
	};
	return response;
}

/**
 * n8n's `parseBody` for a version-1 trigger (it parses whatever the content type): JSON, form and text
 * bodies become `req.body`; a body that claims JSON but is not is refused with 422 before the node runs.
 * The raw bytes are always kept as `req.rawBody`.
 */
function parseBodyLikeN8n(
	rawBody: Buffer,
	contentTypeHeader: string | undefined,
): { body: unknown } | { refusal: string } {
	const contentType = contentTypeHeader?.split(';')[0].trim().toLowerCase();
	if (rawBody.length === 0) return { body: {} };
	const text = rawBody.toString('utf8');
	try {
		if (contentType === 'application/json') return { body: JSON.parse(text) };
		if (contentType === 'application/x-www-form-urlencoded')
			return { body: parseQueryString(text) };
		if (contentType === 'text/plain') return { body: text };
	} catch (error) {
		return { refusal: (error as Error).message };
	}
	return { body: {} };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		req.on('data', (chunk: Buffer) => chunks.push(chunk));
		req.on('end', () => resolve(Buffer.concat(chunks)));
		req.on('error', reject);
	});
}

/**
 * Serves a workflow's trigger webhook on 127.0.0.1 the way n8n's production webhook server does:
 * - the body parsed as n8n parses it, the raw bytes kept as `rawBody`;
 * - each delivery gets a fresh Workflow built from the saved static data, and the static data is saved
 *   back once the node's webhook() returns (n8n saves it in the response callback), so what a node writes
 *   there is visible to the next delivery only from then on;
 * - the node's `webhook()` runs in n8n-core's WebhookContext; its answer is sent unless the node answered
 *   itself (`noWebhookResponse`); any workflowData is run through WorkflowExecute from the trigger.
 * `options.staticData` starts from static data saved earlier, as after a restart of n8n. `options.databaseLatencyMs`
 * delays each delivery between reading its copy of the static data and running the node, as n8n's database read
 * does, so that overlapping deliveries start from the same saved state, as they do in n8n. `options.saveJitterMs`
 * delays each save by up to that long at random, as n8n saves only after starting the run (an execution row, a
 * concurrency slot), so that overlapping deliveries' saves land in any order.
 */
export async function serveTrigger(
	spec: WorkflowSpec,
	triggerName: string,
	credentials: Record<string, ICredentialDataDecryptedObject>,
	options: { staticData?: IDataObject; databaseLatencyMs?: number; saveJitterMs?: number } = {},
): Promise<WebhookServer> {
	const { nodeTypes, credentialTypes } = await loadPackage();
	const triggerNode = spec.nodes.find((node) => node.name === triggerName);
	if (!triggerNode) throw new Error(`No node named ${triggerName}`);
	const nodeType = nodeTypes.getByNameAndVersion(
		triggerNode.type,
		triggerNode.typeVersion,
	) as INodeType;
	const description = nodeType.description.webhooks![0] as IWebhookDescription;
	const runs: RunResult[] = [];
	const failures: Error[] = [];
	const pending: Array<Promise<void>> = [];
	// What n8n keeps in its database between deliveries.
	let savedStaticData: IDataObject = JSON.parse(
		JSON.stringify(options.staticData ?? {}),
	) as IDataObject;

	const handle = async (req: IncomingMessage, res: ServerResponse) => {
		const response = expressLikeResponse(res);
		const rawBody = await readBody(req);
		const parsed = parseBodyLikeN8n(rawBody, req.headers['content-type']);
		if ('refusal' in parsed) {
			response
				.status(422)
				.json({ code: 422, message: 'Failed to parse request body', hint: parsed.refusal });
			return;
		}
		const url = new URL(req.url ?? '/', 'http://127.0.0.1');
		const request = {
			method: req.method,
			headers: req.headers,
			query: Object.fromEntries(url.searchParams),
			body: parsed.body,
			rawBody,
			params: {},
		};

		const staticData = JSON.parse(JSON.stringify(savedStaticData)) as IDataObject;
		if (options.databaseLatencyMs)
			await new Promise((resolve) => setTimeout(resolve, options.databaseLatencyMs));
		const workflow = new Workflow({
			id: 'test-workflow',
			name: 'test',
			nodes: spec.nodes,
			connections: spec.connections,
			nodeTypes,
			active: true,
			staticData,
		});
		const node = workflow.getNode(triggerName)!;
		const hooks = new ExecutionLifecycleHooks('webhook', '1', { id: workflow.id } as never);
		const additionalData = buildAdditionalData(credentialTypes, credentials, hooks, {
			httpRequest: request as never,
			httpResponse: response as never,
		});
		const webhookData = webhookDataFor(workflow.id, node.name, description, additionalData);
		const context = new WebhookContext(
			workflow,
			node,
			additionalData,
			'webhook',
			webhookData,
			[],
			null,
		);

		let result;
		try {
			result = await nodeType.webhook!.call(context);
		} catch (error) {
			// n8n does not tell the caller why: the message could carry anything the node knew.
			failures.push(error as Error);
			if (!res.headersSent)
				response
					.status(500)
					.json({ code: 500, message: 'Workflow Webhook Error: Workflow could not be started!' });
			return;
		}
		if ((workflow.staticData as IDataObject & { __dataChanged?: boolean }).__dataChanged) {
			const save = () => {
				savedStaticData = JSON.parse(JSON.stringify(workflow.staticData)) as IDataObject;
			};
			if (options.saveJitterMs) {
				pending.push(
					new Promise<void>((resolve) =>
						setTimeout(() => resolve(save()), Math.random() * options.saveJitterMs!),
					),
				);
			} else save();
		}
		if (!result.noWebhookResponse && !res.headersSent) {
			const fallback = result.workflowData ? 'Workflow was started' : 'Webhook call received';
			response.status(200).json(result.webhookResponse ?? { message: fallback });
		}
		if (result.workflowData) {
			runs.push(
				await runWorkflow(spec, {
					startNode: triggerName,
					input: result.workflowData[0],
					workflow,
					credentials,
					mode: 'webhook',
				}),
			);
		}
	};

	const server = createServer((req, res) => {
		pending.push(
			handle(req, res).catch((error: Error) => {
				failures.push(error);
				if (!res.headersSent) res.writeHead(500).end();
			}),
		);
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;

	const settled = async () => {
		let seen = -1;
		while (seen !== pending.length) {
			seen = pending.length;
			await Promise.all(pending);
		}
	};

	return {
		url: `http://127.0.0.1:${port}/webhook/${triggerNode.webhookId ?? 'test'}/${description.path}`,
		runs,
		failures,
		savedStaticData: () => savedStaticData,
		async waitForRuns(count, timeoutMs = 10_000) {
			const deadline = Date.now() + timeoutMs;
			while (runs.length < count && Date.now() < deadline)
				await new Promise((resolve) => setTimeout(resolve, 20));
			await settled();
			return runs;
		},
		settled,
		async close() {
			await settled();
			server.closeAllConnections();
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
}
