import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { ATTEMPTS } from '../../../shared/kling';
import { sleepUnlessCancelled } from '../../../shared/sleep';
import type { KlingTask } from '../../../shared/task';
import { KlingFailure } from '../../../shared/transport/failure';
import { backoffDelay, settle } from '../../../shared/transport/retry';
import { endedTaskItems } from './resume';
import { nodeResumeUrl, resumeKey, signedResumeUrl } from './resumeUrl';
import { SlotHolder } from './slotHolder';
import type { WaitingItem } from './waitingItems';
import { endedAmong, queryTasks } from '../../tasks/lookup';
import { batchExternalIds, callbackBatchOf, submitOnce } from '../../tasks/createOnce';
import type { Batch, ItemOutcome, ItemRun } from '../batch';
import type { PreparedCreate } from '../create';
import { prepareCreate } from '../create';

/**
 * Submit and Wait in callback mode: the execution sleeps in n8n's database (no worker is held) and
 * Kling's terminal callback resumes it, the way n8n's Wait node resumes on a webhook call.
 *
 * execute() runs through the router's item loop like every operation: each item is submitted with
 * `callback_url` = this node's resume URL (the execution's, ending in the node's id) plus the batch's identity (`kling_execution`,
 * `kling_batch`, `kling_items`) and `kling_signature`, an HMAC of that identity keyed from the
 * credential's secret (see resumeUrl.ts). A batch larger than the Concurrency option (or
 * the account's slots) is submitted through the run's SlotPool: a task keeps its slots until one
 * shared check sees it end (SlotHolder), so the worker is held only until the last item has been
 * submitted; then the execution sleeps.
 *
 * Kling's callbacks then reach the node's webhook(): see resume.ts.
 *
 * If the wait times out, n8n resumes the execution without running any node code and passes the
 * node's input items through unchanged. So finish() writes each item's pending task onto its input
 * item before sleeping (waitingItems.ts): those are what come out then.
 */

/**
 * While items wait for a slot, held tasks are checked every quarter of the oldest one's age: with
 * tasks of similar length, each check sees a few end, so checks cost well under one request per
 * task. A late check only delays the next submit (the execution is not waiting on it), so this
 * trades a little worker time for half the requests poll mode spends.
 */
const HOLD_GROWTH = 0.25;

/** What the items of one callback run share, made once by the first item; the Batch keeps it. */
export interface CallbackRun {
	/** Each item's generated external_task_id, in item order (without a Reuse fingerprint). */
	externalIds: string[];
	/**
	 * Each submitted item's task's external_task_id: its generated one, with the input's fingerprint
	 * under the Reuse option, or a reused task's.
	 */
	taskExternalIds: string[];
	/** What this execution's tasks' ids start with: a task without it calls back elsewhere. */
	ownPrefix: string;
	/** The first item of the last wave: only the last wave's tasks get the resume URL. */
	lastWaveFrom: number;
	resumeUrl: string;
	timeoutMs: number;
	holder: SlotHolder;
}

function callbackRunOf(ctx: IExecuteFunctions, batch: Batch): Promise<CallbackRun> {
	batch.callback ??= startCallbackRun(ctx, batch);
	return batch.callback;
}

async function startCallbackRun(ctx: IExecuteFunctions, batch: Batch): Promise<CallbackRun> {
	const items = ctx.getInputData();
	const executionId = String(ctx.getExecutionId());
	const { idsExecutionId, batchId } = callbackBatchOf(ctx);
	const key = resumeKey(await ctx.getCredentials('klingApi'));
	if (!key)
		throw new NodeOperationError(
			ctx.getNode(),
			'The Kling API credential has no key to sign the resume URL with',
			{
				description:
					'Callback (Resume) mode signs its resume URL with a key derived from the credential: ' +
					'fill in its API key or secret key.',
			},
		);
	// Under n8n's Retry the ids still name the execution that first made them (origin), so the retry
	// takes the tasks it had created; the URL is this execution's.
	const identity = {
		executionId,
		batchId,
		itemCount: items.length,
		...(idsExecutionId !== executionId && { origin: idsExecutionId }),
	};
	const resumeUrl = signedResumeUrl(
		nodeResumeUrl(
			String(ctx.evaluateExpression('{{ $execution.resumeUrl }}', 0)),
			ctx.getNode().id,
		),
		key,
		identity,
	);

	const { timeoutMs, minIntervalMs, maxIntervalMs } = batch.wait;
	// One attempt per check: the next check asks again.
	const checkPolicy = { ...batch.policy, attempts: ATTEMPTS.check };
	const holder = new SlotHolder(
		batch.slots,
		async (taskIds) => await endedAmong(ctx, taskIds, checkPolicy, batch.lookups),
		{ minIntervalMs, maxIntervalMs, growth: HOLD_GROWTH, holdLimitMs: timeoutMs },
		batch.policy.signal,
		items.length,
	);
	return {
		externalIds: batchExternalIds(idsExecutionId, batchId, items.length),
		taskExternalIds: [],
		ownPrefix: `n8n-${executionId}-${batchId}-`,
		lastWaveFrom: lastWaveFrom(ctx, items.length, batch.concurrency),
		resumeUrl,
		timeoutMs,
		holder,
	};
}

/**
 * The first item of the last wave: the last items whose images fit in the Concurrency slots together
 * (slots count images, so with Number of Images above 1 fewer items than Concurrency), at least the
 * last item. A value that is not a number counts as one image (the item is refused before paying).
 */
function lastWaveFrom(ctx: IExecuteFunctions, count: number, concurrency: number): number {
	let slots = 0;
	for (let itemIndex = count - 1; itemIndex >= 0; itemIndex--) {
		let images: unknown;
		try {
			images = ctx.getNodeParameter('numberOfImages', itemIndex, 1);
		} catch {
			images = 1;
		}
		slots += typeof images === 'number' && images >= 1 ? images : 1;
		if (slots > concurrency) return Math.min(itemIndex + 1, count - 1);
	}
	return 0;
}

const isConcurrencyRefusal = (error: unknown) =>
	error instanceof KlingFailure && error.code === 1303;

/**
 * Sends the create; a 1303 (the account's slots are taken, e.g. by other workflows) is waited out
 * with backoff until the wait's Timeout, not for a fixed number of tries. A refused create was not
 * accepted, so sending it again cannot bill the item twice, and it leaves no task to name.
 */
async function submitWithinTimeout(
	ctx: IExecuteFunctions,
	prepared: PreparedCreate,
	run: ItemRun,
	batch: Batch,
	timeoutMs: number,
): Promise<KlingTask> {
	const { policy } = batch;
	const deadline = Date.now() + timeoutMs;
	for (let attempt = 1; ; attempt++) {
		const outcome = await settle(async () => await submitOnce(ctx, prepared, run, batch));
		if (outcome.ok) return outcome.value;
		if (!isConcurrencyRefusal(outcome.error) || Date.now() >= deadline) throw outcome.error;
		run.tasks.pop();
		await sleepUnlessCancelled(
			Math.min(backoffDelay(attempt, policy.retryDelayMs), Math.max(0, deadline - Date.now())),
			policy.signal,
		);
	}
}

/**
 * One item of a callback run (called by the router's item loop): validated, submitted once, its
 * slots held.
 */
export async function execute(
	this: IExecuteFunctions,
	itemIndex: number,
	run: ItemRun,
	batch: Batch,
): Promise<INodeExecutionData[]> {
	const callbackRun = await callbackRunOf(this, batch);
	// Only the last wave's tasks can end while the execution sleeps: earlier ones get no resume URL
	// (their callbacks would reach a running execution, which n8n refuses with 409 after loading it)
	// and are watched by the slot holder until they end.
	const withCallback = itemIndex >= callbackRun.lastWaveFrom;
	try {
		const prepared = await prepareCreate(
			this,
			itemIndex,
			batch,
			withCallback ? callbackRun.resumeUrl : '',
			callbackRun.externalIds[itemIndex],
		);
		const slots = await batch.slots.acquire(prepared.images);
		const submitted = await settle(
			async () => await submitWithinTimeout(this, prepared, run, batch, callbackRun.timeoutMs),
		);
		if (!submitted.ok) {
			batch.slots.release(slots);
			throw submitted.error;
		}
		const record = run.tasks.at(-1);
		const taskExternalId = record?.external_task_id ?? prepared.externalTaskId;
		callbackRun.taskExternalIds[itemIndex] = taskExternalId;
		// A task another execution made (n8n's Retry, or the Reuse option) calls back to that
		// execution's URL, not this one's: it is watched until it ends, like a task without a callback.
		const elsewhere = record?.reused === true && !taskExternalId.startsWith(callbackRun.ownPrefix);
		callbackRun.holder.hold(submitted.value.task_id, slots, !withCallback || elsewhere);
		return [
			{
				json: {
					...submitted.value,
					expansion: { ...prepared.expansion },
				} as unknown as IDataObject,
			},
		];
	} finally {
		callbackRun.holder.itemSettled();
	}
}

/**
 * The outputs when every task ended before the execution could sleep: read from Kling and shaped as
 * the resume shapes them (endedTaskItems).
 */
async function endedNow(
	ctx: IExecuteFunctions,
	batch: Batch,
	outcomes: ItemOutcome[],
): Promise<INodeExecutionData[]> {
	const taskIds = outcomes
		.filter((outcome) => !outcome.failed)
		.map((outcome) => String(outcome.items[0].json.task_id));
	const { tasks, failures } = await queryTasks(ctx, taskIds, batch.policy, batch.lookups);
	const download = ctx.getNodeParameter('downloadImages', 0, true) as boolean;
	const options = ctx.getNodeParameter('options', 0, {}) as IDataObject;
	// A task that cannot be read or downloaded still comes out, named, with the reason: it was billed.
	const unread = (outcome: ItemOutcome, taskId: string, error: unknown) =>
		outcome.items.map((item) => ({
			...item,
			json: {
				...item.json,
				error:
					`Kling task ${taskId} ended, but ${(error as Error)?.message ?? String(error)}: ` +
					'fetch it with Get Task',
			},
		}));
	const items = await Promise.all(
		outcomes.map(async (outcome, itemIndex) => {
			if (outcome.failed) return outcome.items;
			const taskId = String(outcome.items[0].json.task_id);
			const task = tasks.get(taskId);
			if (!task)
				return failures.has(taskId) ? unread(outcome, taskId, failures.get(taskId)) : outcome.items;
			try {
				const made = await endedTaskItems(ctx, task, { download, options, policy: batch.policy });
				return made.map((item) => ({ ...item, pairedItem: { item: itemIndex } }));
			} catch (error) {
				return unread(outcome, taskId, error);
			}
		}),
	);
	return items.flat();
}

/**
 * After every item has been submitted: marks each input item with its pending task (what comes out
 * if the wait times out) and puts the execution to wait. With nothing submitted there is nothing to
 * wait for.
 */
export async function finish(
	this: IExecuteFunctions,
	batch: Batch,
	outcomes: ItemOutcome[],
): Promise<INodeExecutionData[][]> {
	const pending = batch.callback;
	if (!pending || outcomes.every((outcome) => outcome.failed))
		return [outcomes.flatMap((outcome) => outcome.items)];
	const callbackRun = await pending;
	// Until the tasks without a resume URL have ended.
	await callbackRun.holder.settled();
	callbackRun.holder.stop();
	const submitted = outcomes.filter((outcome) => !outcome.failed);
	// Every task ended while those were watched: no callback is left to resume the execution.
	if (
		submitted.every((outcome) =>
			callbackRun.holder.ended.has(String(outcome.items[0].json.task_id)),
		)
	)
		return [await endedNow(this, batch, outcomes)];
	const items = this.getInputData();
	const wait_deadline = Date.now() + callbackRun.timeoutMs;
	outcomes.forEach((outcome, itemIndex) => {
		const result = outcome.items[0]?.json ?? {};
		const external_task_id =
			callbackRun.taskExternalIds[itemIndex] ?? callbackRun.externalIds[itemIndex];
		let mark: WaitingItem;
		if (outcome.failed) {
			mark = { external_task_id, wait_deadline, wait_status: 'not_submitted' };
			for (const key of ['error', 'description', 'task_id'] as const)
				if (result[key] !== undefined) mark[key] = result[key];
		} else {
			mark = {
				external_task_id,
				wait_deadline,
				wait_status: 'timed_out',
				task_id: result.task_id,
				// Also what the callbacks order the batch's tasks by (resume.ts).
				...(typeof result.created_at === 'number' ? { created_at: result.created_at } : {}),
				message:
					`Kling had not reported task ${String(result.task_id)} when the wait ended: ` +
					`fetch it with Get Task`,
			};
		}
		Object.assign(items[itemIndex].json, mark);
	});
	await this.putExecutionToWait(new Date(wait_deadline));
	// Shown as the node's run while it waits; without the input's binary data, which n8n stores with
	// the input already.
	return [items.map((item, itemIndex) => ({ json: item.json, pairedItem: { item: itemIndex } }))];
}
