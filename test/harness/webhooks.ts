import './env';

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { ExecutionLifecycleHooks, WebhookContext } from 'n8n-core';
import type { ICredentialDataDecryptedObject, INodeType, IWebhookData, IWebhookDescription } from 'n8n-workflow';

import type { RunResult, WorkflowSpec } from './engine';
import { buildAdditionalData, loadPackage, makeWorkflow, runWorkflow } from './engine';

export interface WebhookServer {
	/** The trigger's production URL on 127.0.0.1. */
	url: string;
	/** Every workflow run a delivery started, in order. */
	runs: RunResult[];
	/** Resolves when `count` runs have finished. */
	waitForRuns(count: number, timeoutMs?: number): Promise<RunResult[]>;
	close(): Promise<void>;
}

/** The little of Express's response that n8n's webhook handling and nodes use. */
function expressLikeResponse(res: import('node:http').ServerResponse) {
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
			res.writeHead(response.statusCode, { 'content-type': 'application/json' }).end(JSON.stringify(body));
			return response;
		},
		send(body: unknown) {
			res.writeHead(response.statusCode).end(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
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
 * Serves a workflow's trigger webhook on 127.0.0.1 the way n8n's webhook server does: the raw body kept
 * beside the parsed one, the node's `webhook()` run in n8n-core's WebhookContext, its response sent
 * (or left to the node), and any workflowData run through WorkflowExecute from the trigger.
 */
export async function serveTrigger(
	spec: WorkflowSpec,
	triggerName: string,
	credentials: Record<string, ICredentialDataDecryptedObject>,
): Promise<WebhookServer> {
	const { nodeTypes, credentialTypes } = await loadPackage();
	const workflow = await makeWorkflow(spec);
	const node = workflow.getNode(triggerName)!;
	const nodeType = nodeTypes.getByNameAndVersion(node.type, node.typeVersion) as INodeType;
	const description = nodeType.description.webhooks![0] as IWebhookDescription;
	const runs: RunResult[] = [];
	const pending: Array<Promise<void>> = [];

	const server = createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (chunk: Buffer) => chunks.push(chunk));
		req.on('end', () => {
			const rawBody = Buffer.concat(chunks);
			let body: unknown;
			try {
				body = JSON.parse(rawBody.toString('utf8'));
			} catch {
				body = {};
			}
			const url = new URL(req.url ?? '/', 'http://127.0.0.1');
			const request = { method: req.method, headers: req.headers, query: Object.fromEntries(url.searchParams), body, rawBody, params: {} };
			const response = expressLikeResponse(res);
			const hooks = new ExecutionLifecycleHooks('webhook', '1', { id: workflow.id } as never);
			const additionalData = buildAdditionalData(credentialTypes, credentials, hooks, { httpRequest: request as never, httpResponse: response as never });
			const webhookData: IWebhookData = {
				httpMethod: 'POST',
				node: node.name,
				path: String(description.path),
				webhookDescription: description,
				workflowId: workflow.id,
				workflowExecuteAdditionalData: additionalData,
			};
			const context = new WebhookContext(workflow, node, additionalData, 'webhook', webhookData, [], null);
			const handled = (async () => {
				const result = await nodeType.webhook!.call(context);
				if (!result.noWebhookResponse && !res.headersSent) response.status(200).json(result.webhookResponse ?? { message: 'Workflow was started' });
				if (result.workflowData) {
					runs.push(await runWorkflow(spec, { startNode: triggerName, input: result.workflowData[0], workflow, credentials, mode: 'webhook' }));
				}
			})().catch((error: Error) => {
				if (!res.headersSent) response.status(500).json({ message: error.message });
			});
			pending.push(handled);
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;

	return {
		url: `http://127.0.0.1:${port}/webhook/${node.webhookId ?? 'test'}/${description.path}`,
		runs,
		async waitForRuns(count, timeoutMs = 10_000) {
			const deadline = Date.now() + timeoutMs;
			while (runs.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
			await Promise.all(pending);
			return runs;
		},
		async close() {
			await Promise.all(pending);
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
}
