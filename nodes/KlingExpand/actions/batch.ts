import type { IExecuteFunctions } from 'n8n-workflow';

import { SlotPool } from '../helpers/concurrency';
import type { RequestPolicy } from '../transport';

/** What the items of one run share: request patience, the account's slots, one watcher for all waits. */
export interface Batch {
	policy: RequestPolicy;
	concurrency: number;
	slots: SlotPool;
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
	};
}
