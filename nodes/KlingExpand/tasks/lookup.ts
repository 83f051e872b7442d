import { LIST_PAGE } from '../../shared/kling';
import type { KlingTask } from '../../shared/task';
import { normaliseTask } from '../../shared/task';
import { KlingFailure } from '../../shared/transport/failure';
import type { KlingContext, KlingRequest } from '../../shared/transport/request';
import { klingRequest } from '../../shared/transport/request';
import type { RequestPolicy } from '../../shared/transport/retry';
import { settle } from '../../shared/transport/retry';
import { mapSettled } from '../helpers/concurrency';

/**
 * The ways a task can be asked for by its external_task_id. Kling's pages say a task can be queried
 * "by external_task_id or task_id" without fixing the syntax, so each is tried until one answers:
 * - `path`: `GET …/expand/<id>`, the query path, taking either id;
 * - `pathFlag`: `GET …/expand/<id>?external_task_id=true`, the path id marked as an external one;
 * - `collection`: `GET …/expand?external_task_id=<id>`, the list filtered by it.
 */
export type ExternalIdForm = 'path' | 'pathFlag' | 'collection';
export const EXTERNAL_ID_FORMS: readonly ExternalIdForm[] = ['path', 'pathFlag', 'collection'];

/**
 * What lookups learnt so far, kept by whoever asks several times (a run's TaskRun, one callback's
 * probe): the form that found a task, tried first next time.
 */
export interface LookupMemory {
	form?: ExternalIdForm;
}

function lookupRequest(form: ExternalIdForm, id: string): KlingRequest {
	const path = `/${encodeURIComponent(id)}`;
	if (form === 'path') return { method: 'GET', path };
	if (form === 'pathFlag') return { method: 'GET', path, qs: { external_task_id: 'true' } };
	return { method: 'GET', qs: { external_task_id: id } };
}

/**
 * "Not found" from a form: the task may not exist, or the provider may not read the id this way.
 */
const foundNothing = (error: unknown) =>
	error instanceof KlingFailure &&
	(error.code === 1203 ||
		error.code === 1201 ||
		(error.kind === 'http' && error.httpStatus === 404));

/**
 * The task one form finds, or undefined. A collection answer is searched: a provider that ignores
 * the filter sends its newest tasks.
 */
async function lookUpBy(
	ctx: KlingContext,
	form: ExternalIdForm,
	id: string,
	policy: RequestPolicy,
): Promise<unknown> {
	const outcome = await settle(
		async () => await klingRequest(ctx, lookupRequest(form, id), policy),
	);
	if (!outcome.ok) {
		if (foundNothing(outcome.error)) return undefined;
		throw outcome.error;
	}
	const entries = Array.isArray(outcome.value) ? outcome.value : [outcome.value];
	if (form !== 'collection') return normaliseTask(outcome.value) ? outcome.value : undefined;
	return entries.find((entry) => normaliseTask(entry)?.external_task_id === id);
}

/**
 * A task by task_id or external_task_id; undefined when it does not exist. `by`:
 * - 'taskId': the query path only;
 * - 'externalId': every lookup form, the one this run learnt first;
 * - 'any' (an id of either kind): the query path first, which answers a task_id, then the other
 *   forms.
 * `lookups` learns the form that answers, for the next call given the same memory.
 */
export async function findTask(
	ctx: KlingContext,
	id: string,
	policy: RequestPolicy,
	by: 'any' | 'taskId' | 'externalId' = 'any',
	lookups: LookupMemory = {},
): Promise<unknown> {
	const learnt = lookups.form;
	const order: Array<ExternalIdForm | undefined> =
		by === 'taskId'
			? ['path']
			: by === 'externalId'
				? [learnt, ...EXTERNAL_ID_FORMS]
				: ['path', learnt, ...EXTERNAL_ID_FORMS];
	const forms = [...new Set(order.filter((form): form is ExternalIdForm => form !== undefined))];
	for (const form of forms) {
		const task = await lookUpBy(ctx, form, id, policy);
		if (task === undefined) continue;
		if (by !== 'taskId' && (form !== 'path' || normaliseTask(task)?.task_id !== id))
			lookups.form = form;
		return task;
	}
	return undefined;
}

/** Per-task queries in flight at once, for the tasks a list page did not include. */
const MAX_PARALLEL_QUERIES = 8;

/** Below this many pending tasks, one query each is as cheap as a list page. */
const LIST_FROM_TASKS = 2;

/**
 * What queryTasks learnt: each task it found, and why each task it could not ask about went
 * unanswered.
 */
export interface TaskStates {
	tasks: Map<string, KlingTask>;
	failures: Map<string, unknown>;
}

/**
 * The current state of many tasks (by task_id or external_task_id) in as few requests as possible:
 * one list page for a batch, then a query for each task the page did not include (older tasks, or a
 * provider without the list route). A task the provider does not know is in neither map. One task's
 * failed query does not cost the others their answers: with a batch of queries under transient
 * faults, all-or-nothing would rarely answer any.
 */
export async function queryTasks(
	ctx: KlingContext,
	taskIds: string[],
	policy: RequestPolicy,
	lookups: LookupMemory = {},
): Promise<TaskStates> {
	const wanted = new Set(taskIds);
	const found = new Map<string, KlingTask>();
	if (taskIds.length >= LIST_FROM_TASKS) {
		const pageSize = Math.min(LIST_PAGE.maxSize, Math.max(30, taskIds.length * 2));
		const page = await settle(
			async () => await klingRequest(ctx, { method: 'GET', qs: { pageNum: 1, pageSize } }, policy),
		);
		// A failed list is not fatal: the per-task queries below still answer.
		if (!page.ok && !(page.error instanceof KlingFailure)) throw page.error;
		for (const entry of page.ok && Array.isArray(page.value) ? page.value : []) {
			const task = normaliseTask(entry);
			// Asked for by task_id or by external_task_id: both are keys Kling answers to.
			const key =
				task &&
				[task.task_id, task.external_task_id].find((id) => id !== undefined && wanted.has(id));
			if (task && key) found.set(key, task);
		}
	}
	const missing = taskIds.filter((taskId) => !found.has(taskId));
	const failures = new Map<string, unknown>();
	const queried = await mapSettled(missing.length, MAX_PARALLEL_QUERIES, async (index) => {
		const task = normaliseTask(await findTask(ctx, missing[index], policy, 'any', lookups));
		if (task) found.set(missing[index], task);
	});
	queried.forEach(
		(result, index) => result.status === 'rejected' && failures.set(missing[index], result.reason),
	);
	return { tasks: found, failures };
}
