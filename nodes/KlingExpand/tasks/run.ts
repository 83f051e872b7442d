import type { KlingTask } from '../../shared/task';
import type { RequestPolicy } from '../../shared/transport/retry';
import type { LookupMemory } from './lookup';

/**
 * What the task routines keep for one run of the node. The run's Batch (actions/batch.ts) is one
 * and passes itself down: the state lives and ends with the run, never in a module-level map.
 */
export interface TaskRun {
	/** The run's request patience. */
	policy: RequestPolicy;
	/** Each external_task_id sent in this run, with the item that sent it. */
	externalIds: Map<string, number>;
	/** How this run found a task by its external_task_id, tried first next time (lookup.ts). */
	lookups: LookupMemory;
	/** With the opt-in reuse: the account's reusable tasks, read once per run (reuse.ts). */
	reusable?: Promise<Map<string, KlingTask[]>>;
}

/** A run's TaskRun as it starts: no external id claimed, no lookup form learnt, nothing scanned. */
export function newTaskRun(policy: RequestPolicy): TaskRun {
	return { policy, externalIds: new Map(), lookups: {} };
}

/**
 * What one item has done so far: the tasks it submitted are named in any error, so nothing is lost.
 */
export interface ItemRun {
	itemIndex: number;
	/** `reused`: the task was made by an earlier try or execution, not by this one's create. */
	tasks: Array<{ external_task_id: string; task_id?: string; reused?: boolean }>;
}
