import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import { downloadOptions, withDefaults } from '../../shared/descriptions';
import { ATTEMPTS } from '../../shared/kling';
import type { KlingTask } from '../../shared/task';
import { SlotPool } from '../helpers/concurrency';
import type { TaskWatcher } from '../helpers/polling';
import { validateOptionTypes } from '../helpers/validation';
import type { TaskRun } from '../tasks/run';
import { newTaskRun } from '../tasks/run';
import { CREATE_DEFAULTS, createOptions, waitOptions, waitSettingsFrom } from './descriptions';
import type { CallbackRun } from './submitAndWait/callback';

export type { ItemRun } from '../tasks/run';

/** Every option field of the operations that create, each checked against its own bounds. */
export const CREATE_OPTION_FIELDS = [...createOptions, ...waitOptions, ...downloadOptions];

/**
 * What the items of one run share, and the run's whole state: request patience, the account's
 * slots, the run-wide options (read once, with their defaults), what the task routines keep
 * (TaskRun), and the state of the wait mode in use. Made by the router for each run and passed to
 * every item; it ends with the run.
 */
export interface Batch extends TaskRun {
	concurrency: number;
	slots: SlotPool;
	/** The wait settings of the first item: the run's poll intervals, callback mode's timeout. */
	wait: ReturnType<typeof waitSettingsFrom>;
	/** Poll mode: one watcher for every item's task, so their checks share requests (made once). */
	watcher?: TaskWatcher<KlingTask>;
	/** Callback mode: what its items share, made by the first item (submitAndWait/callback.ts). */
	callback?: Promise<CallbackRun>;
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
		...newTaskRun({
			attempts: ATTEMPTS.run,
			retryDelayMs: options.retryDelay * 1000,
			timeoutMs: options.requestTimeout * 1000,
			signal: ctx.getExecutionCancelSignal(),
		}),
		concurrency,
		slots: new SlotPool(concurrency),
		wait: waitSettingsFrom(given as IDataObject),
	};
}

/** Each item's outcome from the router: its task's item, or (Continue On Fail) its error item. */
export interface ItemOutcome {
	items: INodeExecutionData[];
	failed: boolean;
}
