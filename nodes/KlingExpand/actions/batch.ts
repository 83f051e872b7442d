import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import { downloadOptions, withDefaults } from '../../shared/descriptions';
import { ATTEMPTS } from '../../shared/kling';
import type { RequestPolicy } from '../../shared/transport/retry';
import { SlotPool } from '../helpers/concurrency';
import { validateOptionTypes } from '../helpers/validation';
import { CREATE_DEFAULTS, createOptions, waitOptions } from './descriptions';

/** Every option field of the operations that create, each checked against its own bounds. */
export const CREATE_OPTION_FIELDS = [...createOptions, ...waitOptions, ...downloadOptions];

/**
 * What the items of one run share: request patience, the account's slots, one watcher for all
 * waits.
 */
export interface Batch {
	policy: RequestPolicy;
	concurrency: number;
	slots: SlotPool;
	/** Each external_task_id sent in this run, with the item that sent it. */
	externalIds: Map<string, number>;
}

/**
 * What one item has done so far: the tasks it submitted are named in any error, so nothing is lost.
 */
export interface ItemRun {
	itemIndex: number;
	/** `reused`: the task was made by an earlier try or execution, not by this one's create. */
	tasks: Array<{ external_task_id: string; task_id?: string; reused?: boolean }>;
}

/**
 * Run-wide settings are read from the first item: one run has one concurrency and one patience.
 * Throws a ValidationError for an option of the wrong type or out of range.
 */
export function createBatch(ctx: IExecuteFunctions): Batch {
	const given = ctx.getNodeParameter('options', 0, {}) as Record<string, unknown>;
	validateOptionTypes(given, CREATE_OPTION_FIELDS);
	const options = withDefaults(CREATE_DEFAULTS, given);
	const concurrency = Math.max(1, Math.floor(options.concurrency));
	return {
		policy: {
			attempts: ATTEMPTS.run,
			retryDelayMs: options.retryDelay * 1000,
			timeoutMs: options.requestTimeout * 1000,
			signal: ctx.getExecutionCancelSignal(),
		},
		concurrency,
		slots: new SlotPool(concurrency),
		externalIds: new Map(),
	};
}

/** Each item's outcome from the router: its task's item, or (Continue On Fail) its error item. */
export interface ItemOutcome {
	items: INodeExecutionData[];
	failed: boolean;
}
