import type { IDataObject, IExecuteFunctions, INodeExecutionData, IWebhookFunctions, IWebhookResponseData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { taskOutputItems } from '../../shared/output';
import { mapSettled } from '../helpers/concurrency';
import { sleepUnlessCancelled } from '../../shared/sleep';
import { resumeKey, signBatch, verifyBatch } from '../helpers/resumeToken';
import { SlotHolder } from '../helpers/slotHolder';
import type { KlingTask } from '../../shared/task';
import { isTerminal, normaliseTask } from '../../shared/task';
import type { RequestPolicy } from '../../shared/transport/retry';
import { backoffDelay, DEFAULT_POLICY, settle } from '../../shared/transport/retry';
import { KlingFailure } from '../../shared/transport/failure';
import type { Batch, ItemRun } from './batch';
import { claimExternalId } from './batch';
import { endedAmong, lastToEnd, probeBatch } from '../tasks/batchProbe';
import { callbackBatchId } from '../tasks/createOnce';
import type { PreparedCreate } from './submit.operation';
import { prepareCreate, submitPrepared } from './submit.operation';

/**
 * Submit and Wait in callback mode: the execution sleeps in n8n's database (no worker is held) and Kling's
 * terminal callback resumes it, the way n8n's Wait node resumes on a webhook call.
 *
 * execute() runs through the router's item loop like every operation: each item is submitted with
 * `callback_url` = this execution's resume URL plus the batch's identity (`kling_execution`, `kling_batch`,
 * `kling_items`) and `kling_signature`, an HMAC of that identity keyed from the credential's secret (see
 * helpers/resumeToken.ts). A batch larger than the Concurrency option (or the account's slots) is submitted
 * through the run's SlotPool: a task keeps its slots until one shared check sees it end (SlotHolder), so the
 * worker is held only until the last item has been submitted; then the execution sleeps.
 *
 * webhook() runs on each callback, on the main (or webhook) process and without the input items. It
 * verifies the signature against n8n's own execution id before anything else (401, no provider request),
 * ignores tasks that are not this batch's and non-terminal callbacks (no request), and otherwise probes the
 * batch (batchProbe.ts) until the first unfinished task. Only the callback of the task that ended last
 * resumes the execution and downloads the images, so each image is downloaded once.
 *
 * If the wait times out, n8n resumes the execution without running any node code and passes the node's
 * input items through unchanged. So execute() writes each item's pending task onto its input item
 * (wait_status 'timed_out', task_id, external_task_id) before sleeping: those are what come out then.
 */

const BATCH = 'kling_batch';
const ITEMS = 'kling_items';
const EXECUTION = 'kling_execution';
const SIGNATURE = 'kling_signature';

/** More items than this in one callback batch is not a resume URL this node made. */
const MAX_ITEMS = 100_000;

/**
 * Kling is waiting for the answer to its callback: a few quick tries, not the node's minute of backoff. If
 * they all fail, the callback gets an error, and the wait's timeout still brings every task out by name.
 */
const CALLBACK_QUERY_POLICY: RequestPolicy = { attempts: 3, retryDelayMs: 500, timeoutMs: 10_000 };

/**
 * While items wait for a slot, held tasks are checked every quarter of the oldest one's age: with tasks of
 * similar length, each check sees a few end, so checks cost well under one request per task. A late check
 * only delays the next submit (the execution is not waiting on it), so this trades a little worker time for
 * half the requests poll mode spends.
 */
const HOLD_GROWTH = 0.25;

const externalId = (executionId: string, batch: string, itemIndex: number) => `n8n-${executionId}-${batch}-${itemIndex}`;

/** What the items of one callback run share, made once by the first item. */
interface CallbackRun {
	executionId: string;
	batchId: string;
	resumeUrl: string;
	timeoutMs: number;
	holder: SlotHolder;
}

const callbackRuns = new WeakMap<Batch, Promise<CallbackRun>>();

function callbackRunOf(ctx: IExecuteFunctions, batch: Batch): Promise<CallbackRun> {
	let run = callbackRuns.get(batch);
	if (!run) {
		run = startCallbackRun(ctx, batch);
		callbackRuns.set(batch, run);
	}
	return run;
}

async function startCallbackRun(ctx: IExecuteFunctions, batch: Batch): Promise<CallbackRun> {
	const items = ctx.getInputData();
	const executionId = String(ctx.getExecutionId());
	const batchId = callbackBatchId(ctx);
	const key = resumeKey(await ctx.getCredentials('klingApi'));
	if (!key) throw new NodeOperationError(ctx.getNode(), 'The Kling API credential has no key to sign the resume URL with', { description: 'Callback (Resume) mode signs its resume URL with a key derived from the credential: fill in its API key or secret key.' });
	const resumeUrl = new URL(String(ctx.evaluateExpression('{{ $execution.resumeUrl }}', 0)));
	resumeUrl.searchParams.set(EXECUTION, executionId);
	resumeUrl.searchParams.set(BATCH, batchId);
	resumeUrl.searchParams.set(ITEMS, String(items.length));
	resumeUrl.searchParams.set(SIGNATURE, signBatch(key, { executionId, batchId, itemCount: items.length }));

	const options = ctx.getNodeParameter('options', 0, {}) as { timeout?: number; pollInterval?: number; maxPollInterval?: number };
	const timeoutMs = (options.timeout ?? 600) * 1000;
	const minIntervalMs = (options.pollInterval ?? 1) * 1000;
	const maxIntervalMs = Math.max(minIntervalMs, (options.maxPollInterval ?? 15) * 1000);
	// One attempt per check: the next check asks again.
	const checkPolicy = { ...batch.policy, attempts: 1 };
	const holder = new SlotHolder(
		batch.slots,
		async (taskIds) => await endedAmong(ctx, taskIds, checkPolicy),
		{ minIntervalMs, maxIntervalMs, growth: HOLD_GROWTH, holdLimitMs: timeoutMs },
		batch.policy.signal,
		items.length,
	);
	return { executionId, batchId, resumeUrl: resumeUrl.toString(), timeoutMs, holder };
}

const isConcurrencyRefusal = (error: unknown) => error instanceof KlingFailure && error.code === 1303;

/**
 * Sends the create; a 1303 (the account's slots are taken, e.g. by other workflows) is waited out with
 * backoff until the wait's Timeout, not for a fixed number of tries. A refused create was not accepted,
 * so sending it again cannot bill the item twice, and it leaves no task to name.
 */
async function submitWithinTimeout(ctx: IExecuteFunctions, prepared: PreparedCreate, run: ItemRun, policy: RequestPolicy, timeoutMs: number): Promise<KlingTask> {
	const deadline = Date.now() + timeoutMs;
	for (let attempt = 1; ; attempt++) {
		const outcome = await settle(async () => await submitPrepared(ctx, prepared, run, policy));
		if (outcome.ok) return outcome.value;
		if (!isConcurrencyRefusal(outcome.error) || Date.now() >= deadline) throw outcome.error;
		run.tasks.pop();
		await sleepUnlessCancelled(Math.min(backoffDelay(attempt, policy.retryDelayMs), Math.max(0, deadline - Date.now())), policy.signal);
	}
}

/** One item of a callback run (called by the router's item loop): validated, submitted once, its slots held. */
export async function execute(this: IExecuteFunctions, itemIndex: number, run: ItemRun, batch: Batch): Promise<INodeExecutionData[]> {
	const callbackRun = await callbackRunOf(this, batch);
	try {
		const prepared = await prepareCreate(this, itemIndex, batch.policy, callbackRun.resumeUrl, externalId(callbackRun.executionId, callbackRun.batchId, itemIndex));
		claimExternalId(batch, prepared.externalTaskId, itemIndex);
		const slots = await batch.slots.acquire(prepared.images);
		const submitted = await settle(async () => await submitWithinTimeout(this, prepared, run, batch.policy, callbackRun.timeoutMs));
		if (!submitted.ok) {
			batch.slots.release(slots);
			throw submitted.error;
		}
		callbackRun.holder.hold(submitted.value.task_id, slots);
		return [{ json: { ...submitted.value, expansion: { ...prepared.expansion } } as unknown as IDataObject }];
	} finally {
		callbackRun.holder.itemSettled();
	}
}

/** Each item's outcome from the router: its task's item, or (Continue On Fail) its error item. */
export interface ItemOutcome {
	items: INodeExecutionData[];
	failed: boolean;
}

/**
 * After every item has been submitted: marks each input item with its pending task (what comes out if the
 * wait times out) and puts the execution to wait. With nothing submitted there is nothing to wait for.
 */
export async function finish(this: IExecuteFunctions, batch: Batch, outcomes: ItemOutcome[]): Promise<INodeExecutionData[][]> {
	const pending = callbackRuns.get(batch);
	if (!pending || outcomes.every((outcome) => outcome.failed)) return [outcomes.flatMap((outcome) => outcome.items)];
	const callbackRun = await pending;
	callbackRun.holder.stop();
	await callbackRun.holder.settled();
	const items = this.getInputData();
	outcomes.forEach((outcome, itemIndex) => {
		const json = items[itemIndex].json;
		const result = outcome.items[0]?.json ?? {};
		json.external_task_id = externalId(callbackRun.executionId, callbackRun.batchId, itemIndex);
		if (outcome.failed) {
			json.wait_status = 'not_submitted';
			for (const key of ['error', 'description', 'task_id'] as const) if (result[key] !== undefined) json[key] = result[key];
			return;
		}
		json.wait_status = 'timed_out';
		json.task_id = result.task_id;
		json.message = `Kling had not reported task ${String(result.task_id)} when the wait ended: fetch it with Get Task`;
	});
	await this.putExecutionToWait(new Date(Date.now() + callbackRun.timeoutMs));
	// Shown as the node's run while it waits; without the input's binary data, which n8n stores with the input already.
	return [items.map((item, itemIndex) => ({ json: item.json, pairedItem: { item: itemIndex } }))];
}

/** The task as an output item: downloaded images when asked, an error item for a failed or lost task. */
async function taskToItems(ctx: IWebhookFunctions, itemIndex: number, externalTaskId: string, task: KlingTask | undefined, options: IDataObject, download: boolean): Promise<INodeExecutionData[]> {
	const paired = (items: INodeExecutionData[]) => items.map((item) => ({ ...item, pairedItem: { item: itemIndex } }));
	if (!task) {
		return paired([{ json: { wait_status: 'not_submitted', external_task_id: externalTaskId, error: `Kling has no task ${externalTaskId}: item ${itemIndex} was not submitted (see this node's run before the wait)` } }]);
	}
	if (task.task_status === 'failed') {
		return paired([{ json: { ...task, wait_status: 'completed', error: `Kling task ${task.task_id} failed: ${task.task_status_msg || 'no reason given'}` } as unknown as IDataObject }]);
	}
	const json = { ...task, wait_status: 'completed' } as unknown as IDataObject;
	return paired(await taskOutputItems(ctx, json, task, { download, options, policy: DEFAULT_POLICY }));
}

/** The item index an external_task_id names within this batch, or undefined when it is not one of the batch's. */
function itemOf(externalTaskId: string | undefined, prefix: string, count: number): number | undefined {
	if (!externalTaskId?.startsWith(prefix)) return undefined;
	const rest = externalTaskId.slice(prefix.length);
	if (!/^(0|[1-9]\d*)$/.test(rest)) return undefined;
	const index = Number(rest);
	return index < count ? index : undefined;
}

function answer(ctx: IWebhookFunctions, status: number, body: IDataObject): IWebhookResponseData {
	ctx.getResponseObject().status(status).json(body);
	return { noWebhookResponse: true };
}

/** Runs on each callback to the resume URL: answers, and resumes the execution once the whole batch has ended. */
export async function resumeOnCallback(this: IWebhookFunctions): Promise<IWebhookResponseData> {
	const request = this.getRequestObject();
	const response = this.getResponseObject();
	const query = request.query as Record<string, unknown>;
	const [batchId, items, claimedExecution, signature] = [query[BATCH], query[ITEMS], query[EXECUTION], query[SIGNATURE]];
	const count = Number(items);
	if (typeof batchId !== 'string' || !batchId || typeof signature !== 'string' || !Number.isInteger(count) || count < 1 || count > MAX_ITEMS) {
		return answer(this, 400, { error: 'not a Kling Expand resume URL' });
	}
	// The execution is n8n's (its resume URL's signature covers the path); the batch identity is ours.
	const executionId = String(this.getExecutionId());
	const key = resumeKey(await this.getCredentials('klingApi'));
	if (!key || claimedExecution !== executionId || !verifyBatch(key, { executionId, batchId, itemCount: count }, signature)) {
		return answer(this, 401, { error: 'the resume URL was altered: its batch signature does not match' });
	}
	const task = normaliseTask((request.body as IDataObject)?.data ?? request.body);
	if (!task) return answer(this, 400, { error: 'the body is not a Kling task' });
	const prefix = `n8n-${executionId}-${batchId}-`;
	const own = itemOf(task.external_task_id, prefix, count);
	// The body is only a hint (anyone holding the URL can post one): what comes out is read from Kling.
	if (own === undefined) return { webhookResponse: { received: true, resumed: false, ignored: 'the task is not one of this batch' } };
	if (!isTerminal(task.task_status)) return { webhookResponse: { received: true, resumed: false } };

	const ids = Array.from({ length: count }, (_, itemIndex) => `${prefix}${itemIndex}`);
	const probe = await probeBatch(this, ids, own, CALLBACK_QUERY_POLICY, task.updated_at);
	if (!probe.complete) return { webhookResponse: { received: true, resumed: false } };
	// Only the callback of the task that ended last resumes (and downloads): later ones would repeat it.
	if (lastToEnd(probe.tasks) !== own) return { webhookResponse: { received: true, resumed: false } };

	const download = this.getNodeParameter('downloadImages', true) as boolean;
	const options = this.getNodeParameter('options', {}) as IDataObject;
	// Answer before downloading: the sender's timeout is undocumented.
	if (download) response.status(200).json({ received: true, resumed: true });
	const outputs = await mapSettled(count, 4, async (itemIndex) => await taskToItems(this, itemIndex, ids[itemIndex], probe.tasks[itemIndex], options, download));
	const output = outputs.flatMap((result, itemIndex) =>
		result.status === 'fulfilled'
			? result.value
			: [
					{
						json: { wait_status: 'completed', task_id: probe.tasks[itemIndex]?.task_id, external_task_id: ids[itemIndex], error: (result.reason as Error).message },
						pairedItem: { item: itemIndex },
					},
				],
	);
	return download ? { noWebhookResponse: true, workflowData: [output] } : { workflowData: [output], webhookResponse: { received: true, resumed: true } };
}
