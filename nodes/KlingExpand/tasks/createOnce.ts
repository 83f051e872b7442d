import { randomBytes } from 'node:crypto';

import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';

import { normaliseTask } from '../../shared/task';
import { KlingFailure } from '../../shared/transport/failure';
import type { KlingContext } from '../../shared/transport/request';
import { sendOnce } from '../../shared/transport/request';
import type { RequestPolicy } from '../../shared/transport/retry';
import { settle, withRetries } from '../../shared/transport/retry';
import { findTask } from './lookup';

/**
 * What this execution's node has sent under the external ids it generated. It lives in the node's
 * execution context, which n8n keeps when Retry On Fail runs execute() again, so a later try knows what
 * an earlier one sent; a new execution starts with an empty one.
 */
interface Ledger {
	/** Random, so two executions never share an id, even on two n8n instances (both count executions from 1) on one account. */
	salt: string;
	sent: Record<string, true>;
	/** Per run and item, once a task under its id failed: the next try makes a fresh task under a new id. */
	attempts: Record<string, number>;
}

function ledgerOf(ctx: IExecuteFunctions): Ledger {
	const context = ctx.getContext('node') as { klingExternalIds?: Ledger };
	context.klingExternalIds ??= { salt: randomBytes(4).toString('hex'), sent: {}, attempts: {} };
	return context.klingExternalIds;
}

/** Which run of this node this is (a node runs again in loops); the same on every Retry On Fail try. */
const runIndexOf = (ctx: IExecuteFunctions, itemIndex = 0) => Number(ctx.getWorkflowDataProxy(itemIndex).$runIndex ?? 0);

const runItemKey = (ctx: IExecuteFunctions, itemIndex: number) => `${runIndexOf(ctx, itemIndex)}-${itemIndex}`;

/** `n8n-<execution>-<salt>-<run>-<item>`, and `-<attempt>` once a task under the earlier id failed. */
export function generatedExternalId(ctx: IExecuteFunctions, itemIndex: number): string {
	const { salt, attempts } = ledgerOf(ctx);
	const key = runItemKey(ctx, itemIndex);
	const attempt = attempts[key] ?? 1;
	return `n8n-${ctx.getExecutionId() || 'run'}-${salt}-${key}${attempt > 1 ? `-${attempt}` : ''}`;
}

/** Callback mode's batch id, `<salt><run>`: the same on every try, so a later try finds what an earlier one sent. */
export function callbackBatchId(ctx: IExecuteFunctions): string {
	return `${ledgerOf(ctx).salt}${runIndexOf(ctx)}`;
}

/** The item's task failed: a later try of this execution creates a new task instead of taking the failed one. */
export function retireGeneratedId(ctx: IExecuteFunctions, itemIndex: number): void {
	const { attempts } = ledgerOf(ctx);
	const key = runItemKey(ctx, itemIndex);
	attempts[key] = (attempts[key] ?? 1) + 1;
}

/** Whether an earlier try of this execution sent a create under this id (then it is looked up before sending again). */
export function wasSent(ctx: IExecuteFunctions, externalTaskId: string): boolean {
	return ledgerOf(ctx).sent[externalTaskId] === true;
}

export function markSent(ctx: IExecuteFunctions, externalTaskId: string): void {
	ledgerOf(ctx).sent[externalTaskId] = true;
}

/**
 * Creates a task at most once. A create whose answer was lost (network error, broken JSON, a 5xx) may
 * still have been accepted and billed, so before sending it again we look it up by its
 * `external_task_id`, and only re-send when the provider says it does not exist.
 *
 * Kling refuses a create whose external_task_id it already holds (1201). When that id can only be
 * ours (`idIsOurs`: generated for this item and kept for every try, so n8n's Retry On Fail sends it
 * again; or sent by an attempt of this call whose answer was lost), the task it names is the one we
 * created, and is returned instead of an error or a second task. A failure after a lost answer that no
 * lookup settled carries the id as `unconfirmedTask`, so the error names what may exist.
 */
export async function createTaskOnce(
	ctx: KlingContext,
	body: IDataObject & { external_task_id: string },
	policy: RequestPolicy,
	idIsOurs = false,
): Promise<unknown> {
	const startedAt = Date.now();
	// A user's id may name an old task of theirs: only one created since this call began can be ours.
	const ours = (task: unknown) => idIsOurs || (normaliseTask(task)?.created_at ?? 0) >= startedAt - CLOCK_SKEW_MS;
	const lookUp = async () => {
		const found = await findTask(ctx, body.external_task_id, policy, 'externalId');
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
	if (error instanceof KlingFailure && (unconfirmed || error.mayHaveBeenAccepted)) error.unconfirmedTask = body.external_task_id;
	throw error;
}

/** How far Kling's clock (task created_at) may be behind ours. */
const CLOCK_SKEW_MS = 10 * 60_000;
