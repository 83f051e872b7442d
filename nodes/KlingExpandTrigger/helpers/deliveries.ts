import { isTerminal } from '../../shared/task';

/**
 * How many delivery keys a trigger remembers (oldest forgotten first), so its static data stays
 * small.
 */
export const REMEMBERED_DELIVERIES = 1000;

/**
 * Identifies one status report of one task, whichever delivery attempt carried it:
 * `<task_id>:<task_status>`.
 */
export function deliveryKey(task: { task_id: string; task_status: string }): string {
	return `${task.task_id}:${task.task_status}`;
}

export type DeliveryVerdict = 'new' | 'duplicate' | 'stale';

/** A key seen before is a duplicate; a non-terminal status after the task's end is stale. */
export function judgeDelivery(
	remembered: ReadonlySet<string>,
	task: { task_id: string; task_status: string },
): DeliveryVerdict {
	if (remembered.has(deliveryKey(task))) return 'duplicate';
	if (
		!isTerminal(task.task_status) &&
		(remembered.has(`${task.task_id}:succeed`) || remembered.has(`${task.task_id}:failed`))
	)
		return 'stale';
	return 'new';
}

/** `older` then the keys of `newer` not in it, the newest `limit` kept. */
export function mergeKeys(
	older: readonly string[],
	newer: readonly string[],
	limit = REMEMBERED_DELIVERIES,
): string[] {
	const merged = [...new Set([...older, ...newer])];
	return merged.slice(Math.max(0, merged.length - limit));
}

/**
 * The deliveries a trigger has accepted, held in this process per workflow and node (`scope`).
 *
 * n8n hands each delivery its own copy of the workflow's static data and saves that copy some time
 * after webhook() returns, in no fixed order, so deliveries that overlap would overwrite each
 * other's keys. This memory is the authority within one process: every delivery merges what its
 * copy holds (keys saved by earlier processes) into it, claims its key synchronously (two
 * overlapping deliveries cannot both claim it), and puts the scope's one live list into its copy,
 * so whichever copy n8n saves, and whenever, it holds every key known by then. Across processes
 * (queue mode with several webhook processes) it cannot help: the README shows Remove Duplicates
 * keyed on `delivery_key` for that.
 */
export class DeliveryMemory {
	private readonly scopes = new Map<string, string[]>();

	constructor(private readonly limit = REMEMBERED_DELIVERIES) {}

	/** The scope's live list, with the saved keys merged in; the same array object every time. */
	remembered(scope: string, saved: readonly string[]): string[] {
		return this.update(
			scope,
			saved.filter((key) => typeof key === 'string'),
			[],
		);
	}

	/**
	 * Judges the delivery and, when it is new, remembers it; returns the live list to save either
	 * way.
	 */
	claim(
		scope: string,
		saved: readonly string[],
		task: { task_id: string; task_status: string },
	): { verdict: DeliveryVerdict; remembered: string[] } {
		const known = this.remembered(scope, saved);
		const verdict = judgeDelivery(new Set(known), task);
		if (verdict === 'new') this.update(scope, [], [deliveryKey(task)]);
		return { verdict, remembered: known };
	}

	private update(scope: string, older: readonly string[], newer: readonly string[]): string[] {
		let live = this.scopes.get(scope);
		if (!live) this.scopes.set(scope, (live = []));
		const merged = mergeKeys([...older, ...live], newer, this.limit);
		live.splice(0, live.length, ...merged);
		return live;
	}
}
