import { sleepUnlessCancelled } from '../../../shared/sleep';
import type { KlingTask } from '../../../shared/task';
import { isTerminal } from '../../../shared/task';
import type { ProbeResult } from './probe';
import { lastToEnd } from './probe';

/**
 * One check of a callback batch at a time, per webhook process. Each terminal callback that names
 * a task of the waiting batch comes here (resume.ts); what it decides:
 * - a callback that arrives while the batch is being checked costs no request and is answered at
 *   once: the check under way reads the batch once more when it ends, on its behalf. So callbacks
 *   arriving together (a flood of forged or replayed ones included) share one probe, and none is
 *   held;
 * - a task an earlier check saw end is not asked for again (an end is final);
 * - Kling's queries can show a task running a while after its callback reported the end. When every
 *   task still shown running has had its terminal callback here within `QUERY_LAG.maxMs`, the check
 *   reads again every `QUERY_LAG.recheckMs`, at most `QUERY_LAG.rechecks` times until another task
 *   is seen to end (a flood of forged "ended" callbacks costs those few requests per task end);
 *   otherwise the batch would sleep until its Timeout, since its last callback has come and gone.
 * The batch resumes once: on the callback of the task that ended last, or on the check that read
 * the batch on another callback's behalf.
 */

/** How long a lagging query is waited out, and at what cost: see above. */
export const QUERY_LAG = { maxMs: 5000, recheckMs: 500, rechecks: 6 } as const;

/** Batches remembered at once; the least recently called back is forgotten first. */
const MAX_BATCHES = 200;

interface BatchState {
	/** Tasks seen ended, by item index. */
	ended: Map<number, KlingTask>;
	/** When each item's latest terminal callback arrived here. */
	endReported: Map<number, number>;
	checking: boolean;
	/** A terminal callback arrived during the check: it reads the batch again before it answers. */
	checkAgain: boolean;
	lagRechecks: number;
	resumed: boolean;
}

const batches = new Map<string, BatchState>();

function stateOf(batchKey: string): BatchState {
	let state = batches.get(batchKey);
	if (state) batches.delete(batchKey);
	state ??= {
		ended: new Map(),
		endReported: new Map(),
		checking: false,
		checkAgain: false,
		lagRechecks: 0,
		resumed: false,
	};
	batches.set(batchKey, state);
	if (batches.size > MAX_BATCHES) batches.delete(batches.keys().next().value!);
	return state;
}

export type BatchCheck =
	| { resume: true; tasks: Array<KlingTask | undefined> }
	| { resume: false; requests: number };

/**
 * The decision for one terminal callback of item `own` of the batch `batchKey` (execution and batch
 * ids). `probe` reads the batch from Kling, skipping the tasks it is given as ended (probeBatch).
 */
export async function checkBatch(
	batchKey: string,
	own: number,
	probe: (ended: ReadonlyMap<number, KlingTask>) => Promise<ProbeResult>,
): Promise<BatchCheck> {
	const state = stateOf(batchKey);
	state.endReported.set(own, Date.now());
	if (state.resumed) return { resume: false, requests: 0 };
	if (state.checking) {
		state.checkAgain = true;
		return { resume: false, requests: 0 };
	}
	state.checking = true;
	let requests = 0;
	try {
		for (let onBehalf = false; ; onBehalf = true) {
			state.checkAgain = false;
			const result = await probe(new Map(state.ended));
			requests += result.requests;
			result.tasks.forEach((task, index) => {
				if (!task || !isTerminal(task.task_status) || state.ended.has(index)) return;
				state.ended.set(index, task);
				// A task seen end is progress: the lag may be waited out again for the rest.
				state.lagRechecks = 0;
			});
			if (result.complete) {
				const last = lastToEnd(result.tasks);
				// The last task's callback resumes; if it came here before the batch could be seen
				// complete, this one does.
				if (last !== undefined && !onBehalf && !state.endReported.has(last))
					return { resume: false, requests };
				state.resumed = true;
				return { resume: true, tasks: result.tasks };
			}
			if (state.checkAgain) continue;
			if (!queryLags(state, result.unfinished)) return { resume: false, requests };
			state.lagRechecks++;
			await sleepUnlessCancelled(QUERY_LAG.recheckMs);
		}
	} finally {
		state.checking = false;
	}
}

/** Every task Kling still shows running was reported ended by its callback just now. */
function queryLags(state: BatchState, unfinished: number[]): boolean {
	const now = Date.now();
	return (
		state.lagRechecks < QUERY_LAG.rechecks &&
		unfinished.length > 0 &&
		unfinished.every(
			(index) => now - (state.endReported.get(index) ?? -Infinity) <= QUERY_LAG.maxMs,
		)
	);
}
