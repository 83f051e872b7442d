import { randomBytes } from 'node:crypto';

import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';

import type { KlingTask } from '../../shared/task';
import { normaliseTask } from '../../shared/task';
import { KlingFailure } from '../../shared/transport/failure';
import type { KlingContext } from '../../shared/transport/request';
import { sendOnce } from '../../shared/transport/request';
import { settle, withRetries } from '../../shared/transport/retry';
import { ValidationError } from '../../shared/validationError';
import { findTask } from './lookup';
import type { ItemRun, TaskRun } from './run';

/*
 * Creating a task at most once, whatever fails: every create carries an external_task_id (generated
 * here when the user gives none), a ledger in the node's execution context remembers what each try
 * sent, a later try looks its ids up before sending, and a create whose answer was lost is looked
 * up, not re-sent.
 */

/**
 * What this execution's node has sent under the external ids it generated. It lives in the node's
 * execution context, which n8n keeps when Retry On Fail runs execute() again, and copies into the
 * new execution when a user retries a failed one (n8n's Retry), so a later try knows what an
 * earlier one sent; a new execution starts with an empty one.
 */
interface Ledger {
	/**
	 * The execution the ids were first generated in. n8n's Retry runs under a new execution id; the
	 * ids keep this one, so the retry looks up the tasks the failed execution created instead of
	 * creating them again.
	 */
	executionId?: string;
	/**
	 * Random, so two executions never share an id, even on two n8n instances (both count executions
	 * from 1) on one account.
	 */
	salt: string;
	sent: Record<string, true>;
	/**
	 * Per run and item, once a task under its id failed: the next try makes a fresh task under a new
	 * id.
	 */
	attempts: Record<string, number>;
}

const currentExecutionId = (ctx: IExecuteFunctions) => String(ctx.getExecutionId() || 'run');

function ledgerOf(ctx: IExecuteFunctions): Ledger {
	const context = ctx.getContext('node') as { klingExternalIds?: Ledger };
	context.klingExternalIds ??= {
		executionId: currentExecutionId(ctx),
		salt: randomBytes(4).toString('hex'),
		sent: {},
		attempts: {},
	};
	return context.klingExternalIds;
}

/**
 * Which run of this node this is (a node runs again in loops); the same on every Retry On Fail try.
 */
const runIndexOf = (ctx: IExecuteFunctions, itemIndex = 0) =>
	Number(ctx.getWorkflowDataProxy(itemIndex).$runIndex ?? 0);

const runItemKey = (ctx: IExecuteFunctions, itemIndex: number) =>
	`${runIndexOf(ctx, itemIndex)}-${itemIndex}`;

/**
 * The one external id format: `n8n-<execution>-<batch>-<item>`, and `-<attempt>` once a task under
 * the earlier id failed.
 */
const formatExternalId = (executionId: string, batchId: string, itemIndex: number, attempt = 1) =>
	`n8n-${executionId}-${batchId}-${itemIndex}${attempt > 1 ? `-${attempt}` : ''}`;

/** `<salt>-<run>`: the same on every try of this run, never shared by two executions. */
const batchIdOf = (ctx: IExecuteFunctions, itemIndex = 0) =>
	`${ledgerOf(ctx).salt}-${runIndexOf(ctx, itemIndex)}`;

/**
 * `n8n-<execution>-<salt>-<run>-<item>`, and `-<attempt>` once a task under the earlier id failed.
 * `<execution>` is the execution the ids were first made in: a Retry of it keeps the same ids.
 */
export function generatedExternalId(ctx: IExecuteFunctions, itemIndex: number): string {
	const ledger = ledgerOf(ctx);
	return formatExternalId(
		ledger.executionId ?? currentExecutionId(ctx),
		batchIdOf(ctx, itemIndex),
		itemIndex,
		ledger.attempts[runItemKey(ctx, itemIndex)] ?? 1,
	);
}

/**
 * Callback mode's batch: the execution its items' generated ids name (the first one they were made
 * in: n8n's Retry keeps it, as in poll mode) and the batch part of the ids, so the resume webhook
 * can name them all.
 */
export function callbackBatchOf(ctx: IExecuteFunctions): {
	idsExecutionId: string;
	batchId: string;
} {
	return {
		idsExecutionId: ledgerOf(ctx).executionId ?? currentExecutionId(ctx),
		batchId: batchIdOf(ctx),
	};
}

/**
 * The external ids of a callback batch's items, in item order (callback mode never retires an id).
 */
export function batchExternalIds(executionId: string, batchId: string, count: number): string[] {
	return Array.from({ length: count }, (_, itemIndex) =>
		formatExternalId(executionId, batchId, itemIndex),
	);
}

/**
 * The item's task failed: a later try of this execution creates a new task instead of taking the
 * failed one.
 */
export function retireGeneratedId(ctx: IExecuteFunctions, itemIndex: number): void {
	const { attempts } = ledgerOf(ctx);
	const key = runItemKey(ctx, itemIndex);
	attempts[key] = (attempts[key] ?? 1) + 1;
}

/**
 * Whether an earlier try of this execution sent a create under this id (then it is looked up before
 * sending again).
 */
function wasSent(ctx: IExecuteFunctions, externalTaskId: string): boolean {
	return ledgerOf(ctx).sent[externalTaskId] === true;
}

function markSent(ctx: IExecuteFunctions, externalTaskId: string): void {
	ledgerOf(ctx).sent[externalTaskId] = true;
}

/**
 * Creates a task at most once. A create whose answer was lost (network error, broken JSON, a 5xx)
 * may still have been accepted and billed, so before sending it again we look it up by its
 * `external_task_id`, and only re-send when the provider says it does not exist.
 *
 * Kling refuses a create whose external_task_id it already holds (1201). When that id can only be
 * ours (`idIsOurs`: generated for this item and kept for every try, so n8n's Retry On Fail sends it
 * again; or sent by an attempt of this call whose answer was lost), the task it names is the one we
 * created, and is returned instead of an error or a second task. A failure after a lost answer that
 * no lookup settled carries the id as `unconfirmedTask`, so the error names what may exist.
 */
export async function createTaskOnce(
	ctx: KlingContext,
	body: IDataObject & { external_task_id: string },
	taskRun: TaskRun,
	idIsOurs = false,
): Promise<unknown> {
	const { policy } = taskRun;
	const startedAt = Date.now();
	// A user's id may name an old task of theirs: only one created since this call began can be ours.
	const ours = (task: unknown) =>
		idIsOurs || (normaliseTask(task)?.created_at ?? 0) >= startedAt - CLOCK_SKEW_MS;
	const lookUp = async () => {
		const found = await findTask(ctx, body.external_task_id, policy, 'externalId', taskRun.lookups);
		return found !== undefined && ours(found) ? found : undefined;
	};
	let answerLost = false;
	let unconfirmed = false;
	const send = async () => await sendOnce(ctx, { method: 'POST', body }, policy);
	const created = await settle(
		async () =>
			await withRetries(send, policy, async (failure) => {
				if (!failure.mayHaveBeenAccepted) return undefined;
				answerLost = true;
				unconfirmed = true;
				const found = await lookUp();
				// Not found: the lost create made nothing, and the next one may be sent.
				unconfirmed = found !== undefined;
				return found;
			}),
	);
	if (created.ok) return created.value;
	const error = created.error;
	const refusedAsTaken = error instanceof KlingFailure && error.code === 1201;
	if (refusedAsTaken && (idIsOurs || answerLost)) {
		// If this lookup fails, the refusal itself is the clearer error to show.
		const existing = await settle(lookUp);
		if (existing.ok && existing.value !== undefined) return existing.value;
		unconfirmed = true;
	}
	// After a lost answer the task may exist even when a lookup missed it (lag, or the create refused
	// next, e.g. 1303, because that very task now holds the slot).
	if (error instanceof KlingFailure && (unconfirmed || answerLost || error.mayHaveBeenAccepted))
		error.unconfirmedTask = body.external_task_id;
	throw error;
}

/** How far Kling's clock (task created_at) may be behind ours. */
const CLOCK_SKEW_MS = 10 * 60_000;

/**
 * Refuses, before it is sent, an item whose external_task_id another item of the run already uses:
 * Kling would refuse its create, or, after a lost answer, hand back the other item's task.
 */
export function claimExternalId(taskRun: TaskRun, externalTaskId: string, itemIndex: number): void {
	const holder = taskRun.externalIds.get(externalTaskId);
	if (holder !== undefined && holder !== itemIndex) {
		throw new ValidationError(
			'externalTaskId',
			externalTaskId,
			`item ${holder} of this run already uses it, and each task needs its own`,
		);
	}
	taskRun.externalIds.set(externalTaskId, itemIndex);
}

/** What a create needs to be sent at most once. */
export interface CreateRequest {
	externalTaskId: string;
	/**
	 * Generated here rather than given by the user: a task Kling holds under it can only be this
	 * item's.
	 */
	externalIdIsOurs: boolean;
	body: () => Promise<IDataObject & { external_task_id: string }>;
	/**
	 * With the opt-in reuse (tasks/reuse.ts): a task made earlier for the same input, taken instead
	 * of creating one.
	 */
	reuse?: () => Promise<KlingTask | undefined>;
}

/**
 * Sends the create once (see createTaskOnce) and records the task on the item's run. When an
 * earlier try of this execution (n8n's Retry On Fail) already sent a create under this generated
 * id, the task is looked up first and taken if it exists, so no try bills the same item twice.
 */
export async function submitOnce(
	ctx: IExecuteFunctions,
	request: CreateRequest,
	run: ItemRun,
	taskRun: TaskRun,
): Promise<KlingTask> {
	const { policy, lookups } = taskRun;
	const record: ItemRun['tasks'][number] = { external_task_id: request.externalTaskId };
	run.tasks.push(record);
	const sentBefore = request.externalIdIsOurs && wasSent(ctx, request.externalTaskId);
	// A try whose earlier try took a reused task sent nothing under its own id: reuse again.
	const earlier =
		(sentBefore
			? await findTask(ctx, request.externalTaskId, policy, 'any', lookups)
			: undefined) ?? (await request.reuse?.());
	if (request.externalIdIsOurs) markSent(ctx, request.externalTaskId);
	const create = async () => {
		const body = await request.body();
		logTask(ctx, 'sending', run.itemIndex, request.externalTaskId);
		return await createTaskOnce(ctx, body, taskRun, request.externalIdIsOurs);
	};
	const task = normaliseTask(earlier ?? (await create()));
	if (!task)
		throw new KlingFailure(
			'malformed',
			'The provider accepted the task but its answer has no task_id',
		);
	record.task_id = task.task_id;
	record.external_task_id = task.external_task_id ?? request.externalTaskId;
	if (earlier !== undefined) record.reused = true;
	logTask(
		ctx,
		earlier === undefined ? 'accepted' : 'reused',
		run.itemIndex,
		record.external_task_id,
		task.task_id,
	);
	return { ...task, external_task_id: record.external_task_id };
}

/** What the log says of a create: about to be sent, accepted, or an earlier try's task taken. */
const LOG_EVENTS = {
	sending: 'sending a create',
	accepted: 'Kling accepted task',
	reused: 'reusing task',
} as const;

/**
 * Info lines in n8n's log, written as they happen: one before each create is sent (naming the
 * external_task_id Get Task can find it by, should n8n die before Kling's answer arrives) and one
 * once Kling accepted it (its task_id). n8n saves an execution's data only when a node finishes, so
 * after a crash (kill -9 of n8n or of a worker) these lines still name every billed task. Ids only,
 * never the request.
 */
function logTask(
	ctx: IExecuteFunctions,
	event: keyof typeof LOG_EVENTS,
	itemIndex: number,
	externalTaskId: string,
	taskId?: string,
): void {
	const executionId = currentExecutionId(ctx);
	const node = ctx.getNode().name;
	const subject = taskId
		? `${LOG_EVENTS[event]} ${taskId} (external_task_id ${externalTaskId})`
		: `${LOG_EVENTS[event]} under external_task_id ${externalTaskId}`;
	ctx.logger.info(
		`Kling Expand: ${subject} for item ${itemIndex} of node "${node}" in execution ${executionId}` +
			(event === 'reused' ? ', made earlier for the same item or input: nothing new billed' : ''),
		{ executionId, node, itemIndex, externalTaskId, ...(taskId ? { taskId } : {}), event },
	);
}
