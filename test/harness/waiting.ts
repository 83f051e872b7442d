import './env';

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { ExecutionLifecycleHooks, WebhookContext } from 'n8n-core';
import type {
	ICredentialDataDecryptedObject,
	INodeExecutionData,
	INodeType,
	IRunExecutionData,
} from 'n8n-workflow';

import type { RunResult, WorkflowSpec } from './engine';
import {
	buildAdditionalData,
	loadPackage,
	makeWorkflow,
	runWorkflow,
	webhookDataFor,
	webhookPathOf,
} from './engine';
import { expressLikeResponse } from './webhooks';

/** Executions not yet closed: closed after each test, so a failed assertion cannot leave a server holding jest open. */
const openExecutions = new Set<{ close(): Promise<void> }>();
// Outside jest (the bench) there is no afterEach: callers close their executions themselves.
if (typeof afterEach === 'function') {
	afterEach(async () => {
		await Promise.all([...openExecutions].map(async (execution) => await execution.close()));
	});
}

export interface Delivery {
	status: number;
	body: unknown;
	/** This delivery's webhook() result resumed the execution (a later one finds it no longer waiting). */
	resumed: boolean;
}

/**
 * One execution that sleeps and resumes the way n8n runs it, in-process:
 * - `start()` runs the workflow until a node puts it to wait, and stores its data as n8n stores it (JSON);
 * - a server on 127.0.0.1 stands in for n8n's waiting-webhook endpoint `/webhook-waiting/<execution>/<suffix>`:
 *   as n8n routes it, a POST runs the `webhook()` of the waiting node's restart webhook whose path equals the
 *   suffix (404 when it has none); if that returns workflowData, the data becomes the node's input on the
 *   execution stack and WorkflowExecute continues the stored execution (the node, now disabled, passes
 *   it on), exactly as n8n's webhook helpers do. A callback before the execution waits, or after it
 *   resumed, gets 409, as in n8n;
 * - `timeOut()` continues the stored execution as n8n does when `waitTill` passes: no node code runs.
 * A resumed run that waits again (a later node's wait) is stored and can be resumed in turn.
 */
export async function waitingExecution(
	spec: WorkflowSpec,
	nodeName: string,
	credentials: Record<string, ICredentialDataDecryptedObject>,
) {
	const { nodeTypes, credentialTypes } = await loadPackage();
	const workflow = await makeWorkflow(spec);
	const executionId = String(Math.floor(Math.random() * 1e9));
	const deliveries: Delivery[] = [];
	let stored: IRunExecutionData | undefined;
	let state: 'running' | 'waiting' | 'resuming' | 'finished' = 'running';
	let resumed: Promise<RunResult> | undefined;
	let lastResumed: Promise<RunResult> | undefined;

	const resume = (data: IRunExecutionData, waitingNode: string) =>
		runWorkflow(spec, {
			startNode: waitingNode,
			input: [],
			credentials,
			resume: data,
			executionId,
			workflow,
			mode: 'webhook',
		}).then((result) => {
			// The resumed run may wait again (a later node's wait): it can then be resumed in turn.
			if (result.run.status === 'waiting') {
				stored = JSON.parse(JSON.stringify(result.run.data)) as IRunExecutionData;
				state = 'waiting';
			} else state = 'finished';
			return result;
		});

	/**
	 * The waiting node's restart webhook that n8n's waiting-webhook routing picks for a URL suffix:
	 * the last node executed, a POST restart webhook whose path equals the suffix; none, and n8n
	 * answers 404.
	 */
	const restartWebhookFor = (suffix: string) => {
		const waitingNode = workflow.getNode(stored!.resultData.lastNodeExecuted!)!;
		const nodeType = nodeTypes.getByNameAndVersion(
			waitingNode.type,
			waitingNode.typeVersion,
		) as INodeType;
		const description = (nodeType.description.webhooks ?? []).find(
			(webhook) =>
				webhook.restartWebhook === true &&
				webhook.httpMethod === 'POST' &&
				webhookPathOf(workflow, waitingNode.name, webhook) === suffix,
		);
		return description && { waitingNode, nodeType, description };
	};

	const server = createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (chunk: Buffer) => chunks.push(chunk));
		req.on('end', () => {
			void (async () => {
				const rawBody = Buffer.concat(chunks);
				let body: unknown = {};
				try {
					body = JSON.parse(rawBody.toString('utf8'));
				} catch {
					// Left to the node to refuse.
				}
				const response = expressLikeResponse(res);
				if (state !== 'waiting' || !stored) {
					deliveries.push({ status: 409, body, resumed: false });
					response.status(409).json({ message: `The execution is ${state}, not waiting` });
					return;
				}
				const url = new URL(req.url ?? '/', 'http://127.0.0.1');
				const suffix = decodeURIComponent(
					url.pathname.split('/').slice(3).join('/').replace(/\/+$/, ''),
				);
				const restart = restartWebhookFor(suffix);
				if (!restart) {
					deliveries.push({ status: 404, body, resumed: false });
					response.status(404).json({
						message: `The workflow for execution "${executionId}" does not contain a waiting webhook with a matching path/method.`,
					});
					return;
				}
				const { waitingNode, nodeType, description } = restart;
				const request = {
					method: req.method,
					headers: req.headers,
					query: Object.fromEntries(url.searchParams),
					body,
					rawBody,
					params: {},
				};
				const additionalData = buildAdditionalData(
					credentialTypes,
					credentials,
					new ExecutionLifecycleHooks('webhook', executionId, { id: workflow.id } as never),
					{
						executionId,
						httpRequest: request as never,
						httpResponse: response as never,
					},
				);
				const webhookData = webhookDataFor(
					workflow.id,
					waitingNode.name,
					description,
					additionalData,
					workflow,
				);
				const result = await nodeType.webhook!.call(
					new WebhookContext(
						workflow,
						waitingNode,
						additionalData,
						'webhook',
						webhookData,
						[],
						stored,
					),
				);
				if (!result.noWebhookResponse && !res.headersSent)
					response.status(200).json(result.webhookResponse ?? { message: 'Workflow was started' });
				// Two terminal callbacks may both offer workflowData; as in n8n, only the first resumes the run.
				const resumes = Boolean(result.workflowData) && state === 'waiting';
				deliveries.push({ status: res.statusCode, body, resumed: resumes });
				if (resumes) {
					state = 'resuming';
					const data = structuredClone(stored);
					data.executionData!.nodeExecutionStack[0].data.main =
						result.workflowData as INodeExecutionData[][];
					lastResumed = resume(data, waitingNode.name);
					resumed ??= lastResumed;
				}
			})().catch((error: Error) => {
				if (!res.headersSent) res.writeHead(500).end(error.message);
			});
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook-waiting`;

	const execution = {
		executionId,
		deliveries,
		/**
		 * Runs until the workflow waits (or ends); the stored data is a JSON copy, as n8n's database keeps it.
		 * `retryOf`: the data n8n's Retry continues (see `retryData`), instead of a new run on `input`.
		 */
		async start(input: INodeExecutionData[], retryOf?: IRunExecutionData): Promise<RunResult> {
			const result = await runWorkflow(spec, {
				startNode: nodeName,
				input,
				credentials,
				executionId,
				workflow,
				webhookWaitingBaseUrl: baseUrl,
				...(retryOf && { resume: retryOf, mode: 'retry' as const }),
			});
			stored = JSON.parse(JSON.stringify(result.run.data)) as IRunExecutionData;
			state = result.run.status === 'waiting' ? 'waiting' : 'finished';
			return result;
		},
		/** Resolves with the resumed run once a callback resumed the execution. */
		async resumedRun(timeoutMs = 10_000): Promise<RunResult | undefined> {
			const deadline = Date.now() + timeoutMs;
			while (!resumed && Date.now() < deadline)
				await new Promise((resolve) => setTimeout(resolve, 20));
			return await resumed;
		},
		/** The run a later resume of the same execution (another node's wait) continued, once it has. */
		async lastResumedRun(): Promise<RunResult | undefined> {
			return await lastResumed;
		},
		async timeOut(): Promise<RunResult> {
			if (state !== 'waiting' || !stored) throw new Error(`The execution is ${state}, not waiting`);
			state = 'resuming';
			return await resume(structuredClone(stored), stored.resultData.lastNodeExecuted!);
		},
		get state() {
			return state;
		},
		async close() {
			if (!openExecutions.delete(execution)) return;
			await lastResumed?.catch(() => undefined);
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
	openExecutions.add(execution);
	return execution;
}

/**
 * What n8n's Retry of a failed execution continues (ExecutionService.retry in n8n 2.41): the failed
 * one's stored data (its node contexts included) with the error and the failed node's last run
 * removed.
 */
export function retryData(failed: IRunExecutionData): IRunExecutionData {
	const data = JSON.parse(JSON.stringify(failed)) as IRunExecutionData;
	const { lastNodeExecuted } = data.resultData;
	delete data.resultData.error;
	const runs = data.resultData.runData[lastNodeExecuted!];
	if (runs?.at(-1)?.error !== undefined) runs.pop();
	return data;
}
