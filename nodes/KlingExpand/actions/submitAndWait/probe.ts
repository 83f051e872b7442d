import type { KlingTask } from '../../../shared/task';
import { isTerminal, normaliseTask } from '../../../shared/task';
import type { KlingContext } from '../../../shared/transport/request';
import type { RequestPolicy } from '../../../shared/transport/retry';
import { listedAmong } from '../../tasks/listPage';
import type { LookupMemory } from '../../tasks/lookup';
import { findTask } from '../../tasks/lookup';

export type ProbeResult =
	/**
	 * `unfinished`: the items whose task Kling still shows running (the probe stopped at the first
	 * it found); `tasks`: what it read, by item index.
	 */
	| {
			complete: false;
			tasks: Array<KlingTask | undefined>;
			unfinished: number[];
			requests: number;
	  }
	/**
	 * Every task of the batch, by item index; undefined for an item Kling holds no task for (it was
	 * never submitted).
	 */
	| { complete: true; tasks: Array<KlingTask | undefined>; requests: number };

/**
 * Whether a callback batch has ended, at a cost that stays linear in its size whatever else the
 * account holds. Each terminal callback runs this; the answer "not yet" is what most of them get,
 * so it is found with as few requests as possible:
 * 1. the newest other task is asked first: tasks end roughly in the order they were created, so
 *    while the batch runs, the one created last is the likeliest still to run (one query, and
 *    done);
 * 2. only when that one has ended too are the rest read from list pages (500 tasks each, newest
 *    first), while a page can still save more queries than it costs, stopping at the first
 *    unfinished task. The callback of the batch's newest task starts here: for the same reason it
 *    is the likeliest to be the last, and then its query would only be followed by the pages (when
 *    it is not the last, the first page usually shows a task still running just as well);
 * 3. whatever the pages did not show is asked for one by one, again stopping at the first
 *    unfinished one.
 * `ids` are the batch's external_task_ids in item order; `own` is the item whose callback this is,
 * asked last. The hints only save work, never decide the answer: `createdAt` (each item's task
 * created_at, as finish() recorded it on the waiting items) orders the tasks, by item index where
 * it is missing; `ended` (tasks an earlier probe of this batch saw end: an end is final) are not
 * asked again. `lookups` (kept by the callback across its probes) saves the lookups' requests.
 */
export async function probeBatch(
	ctx: KlingContext,
	ids: string[],
	own: number,
	policy: RequestPolicy,
	hints: {
		createdAt?: Array<number | undefined>;
		ended?: ReadonlyMap<number, KlingTask>;
		lookups?: LookupMemory;
	} = {},
): Promise<ProbeResult> {
	const { createdAt = [], ended = new Map<number, KlingTask>(), lookups = {} } = hints;
	const tasks = new Array<KlingTask | undefined>(ids.length);
	const known = new Set<number>();
	for (const [index, task] of ended) {
		tasks[index] = task;
		known.add(index);
	}
	let requests = 0;
	const created = (index: number) => createdAt[index] ?? -Infinity;
	const newestFirst = [...ids.keys()]
		.filter((index) => !known.has(index))
		.sort((a, b) => created(b) - created(a) || b - a);
	const order = newestFirst.filter((index) => index !== own);
	if (!known.has(own)) order.push(own);
	const isUnfinished = (index: number) =>
		tasks[index] !== undefined && !isTerminal(tasks[index]!.task_status);
	const unfinished = () => [...known].filter(isUnfinished);
	const notComplete = () => ({
		complete: false as const,
		tasks,
		unfinished: unfinished(),
		requests,
	});

	const ask = async (index: number) => {
		requests++;
		tasks[index] = normaliseTask(await findTask(ctx, ids[index], policy, 'any', lookups));
		known.add(index);
	};

	if (order.length > 1 && newestFirst[0] !== own) {
		await ask(order[0]);
		if (unfinished().length > 0) return notComplete();
	}

	const position = new Map(ids.map((id, index) => [id, index]));
	for (let pageNum = 1; ; pageNum++) {
		const left = ids.length - known.size;
		// A page costs one request; asking the tasks one by one costs one each.
		if (left < 2 || pageNum - 1 >= left) break;
		requests++;
		const page = await listedAmong(ctx, ids, policy, { pageNum });
		// A provider without the list route (or a failed page): the tasks are asked for one by one
		// below.
		if (!page) break;
		for (const [id, task] of page.found) {
			const index = position.get(id)!;
			if (!known.has(index)) {
				tasks[index] = task;
				known.add(index);
			}
		}
		if (unfinished().length > 0) return notComplete();
		if (!page.more) break;
	}

	for (const index of order) {
		if (known.has(index)) continue;
		await ask(index);
		if (unfinished().length > 0) return notComplete();
	}
	return { complete: true, tasks, requests };
}

/**
 * The item whose task ended last (ties: the later item). Its terminal callback is the one that
 * resumes the execution and downloads the images, so callbacks that arrive later, duplicates
 * included, or at the same time, never download them again or resume twice.
 */
export function lastToEnd(tasks: Array<KlingTask | undefined>): number | undefined {
	let last: number | undefined;
	tasks.forEach((task, index) => {
		if (!task) return;
		const ended = task.updated_at ?? 0;
		if (last === undefined || ended >= (tasks[last]!.updated_at ?? 0)) last = index;
	});
	return last;
}
