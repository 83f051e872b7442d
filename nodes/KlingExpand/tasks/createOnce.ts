import { randomBytes } from 'node:crypto';

import type { IExecuteFunctions } from 'n8n-workflow';

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
