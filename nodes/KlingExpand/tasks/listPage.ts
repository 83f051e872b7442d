import { LIST_PAGE } from '../../shared/kling';
import type { KlingTask } from '../../shared/task';
import { normaliseTask } from '../../shared/task';
import { KlingFailure } from '../../shared/transport/failure';
import type { KlingContext } from '../../shared/transport/request';
import { klingRequest } from '../../shared/transport/request';
import type { RequestPolicy } from '../../shared/transport/retry';
import { settle } from '../../shared/transport/retry';

/** One page of the account's tasks, newest first. */
export interface ListPage {
	/** The page's tasks; entries that are not tasks are left out. */
	tasks: KlingTask[];
	/** The page was full and is not the last Kling serves: the next one may hold older tasks. */
	more: boolean;
}

/**
 * One page of Kling's list route: the one place the node reads it (List Tasks, the reuse scan, the
 * batched lookups, callback mode's probe and slot checks). A page is Kling's largest unless the
 * caller asks for fewer tasks.
 */
export async function readListPage(
	ctx: KlingContext,
	pageNum: number,
	policy: RequestPolicy,
	pageSize: number = LIST_PAGE.maxSize,
): Promise<ListPage> {
	const answer = await klingRequest(ctx, { method: 'GET', qs: { pageNum, pageSize } }, policy);
	const entries = Array.isArray(answer) ? answer : [];
	const tasks: KlingTask[] = [];
	for (const entry of entries) {
		const task = normaliseTask(entry);
		if (task) tasks.push(task);
	}
	return { tasks, more: entries.length >= pageSize && pageNum < LIST_PAGE.maxNum };
}

/**
 * The tasks a list page shows among those asked for (by task_id or external_task_id, both keys
 * Kling answers to), each under the id it was asked for; undefined when Kling answered with a
 * failure (a provider without the list route, or a page that failed): the caller then asks for the
 * tasks one by one.
 */
export async function listedAmong(
	ctx: KlingContext,
	ids: Iterable<string>,
	policy: RequestPolicy,
	page: { pageNum?: number; pageSize?: number } = {},
): Promise<{ found: Map<string, KlingTask>; more: boolean } | undefined> {
	const read = await settle(
		async () => await readListPage(ctx, page.pageNum ?? 1, policy, page.pageSize),
	);
	if (!read.ok) {
		if (read.error instanceof KlingFailure) return undefined;
		throw read.error;
	}
	const wanted = new Set(ids);
	const found = new Map<string, KlingTask>();
	for (const task of read.value.tasks) {
		const key = [task.task_id, task.external_task_id].find(
			(id) => id !== undefined && wanted.has(id),
		);
		if (key !== undefined) found.set(key, task);
	}
	return { found, more: read.value.more };
}
