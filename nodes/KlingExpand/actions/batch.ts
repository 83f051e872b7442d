import type { IExecuteFunctions } from 'n8n-workflow';

import { SlotPool } from '../helpers/concurrency';
import { ValidationError } from '../../shared/validationError';
import type { RequestPolicy } from '../../shared/transport/retry';

/** What the items of one run share: request patience, the account's slots, one watcher for all waits. */
export interface Batch {
	policy: RequestPolicy;
	concurrency: number;
	slots: SlotPool;
	/** Each external_task_id sent in this run, with the item that sent it. */
	externalIds: Map<string, number>;
}

/** What one item has done so far: the tasks it submitted are named in any error, so nothing is lost. */
export interface ItemRun {
	itemIndex: number;
	tasks: Array<{ external_task_id: string; task_id?: string }>;
}

/** Run-wide settings are read from the first item: one run has one concurrency and one patience. */
export function createBatch(ctx: IExecuteFunctions): Batch {
	const options = ctx.getNodeParameter('options', 0, {}) as { concurrency?: number; requestTimeout?: number; retryDelay?: number };
	const concurrency = Math.max(1, Math.floor(options.concurrency ?? 5));
	return {
		policy: {
			attempts: 10,
			retryDelayMs: (options.retryDelay ?? 1) * 1000,
			timeoutMs: (options.requestTimeout ?? 30) * 1000,
			signal: ctx.getExecutionCancelSignal(),
		},
		concurrency,
		slots: new SlotPool(concurrency),
		externalIds: new Map(),
	};
}

/**
 * Refuses, before it is sent, an item whose external_task_id another item of the run already uses:
 * Kling would refuse its create, or, after a lost answer, hand back the other item's task.
 */
export function claimExternalId(batch: Batch, externalTaskId: string, itemIndex: number): void {
	const holder = batch.externalIds.get(externalTaskId);
	if (holder !== undefined && holder !== itemIndex) {
		throw new ValidationError('externalTaskId', externalTaskId, `item ${holder} of this run already uses it, and each task needs its own`);
	}
	batch.externalIds.set(externalTaskId, itemIndex);
}
