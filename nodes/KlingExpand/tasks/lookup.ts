import { LIST_PAGE } from '../../shared/kling';
import type { KlingTask } from '../../shared/task';
import { isTerminal, normaliseTask } from '../../shared/task';
import { KlingFailure } from '../../shared/transport/failure';
import type { KlingContext, KlingRequest } from '../../shared/transport/request';
import { klingRequest } from '../../shared/transport/request';
import type { RequestPolicy } from '../../shared/transport/retry';
import { settle } from '../../shared/transport/retry';
import { mapSettled } from '../helpers/concurrency';
import { listedAmong } from './listPage';

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

/** How readTasks reads many tasks. */
interface Reading {
	/** A list page is read from this many tasks on. */
	listFrom: number;
	pageSize: number;
	/** How many of the tasks the page missed are queried, oldest first. */
	queryMissed: number;
}

/**
 * The one reading of where many tasks stand: a list page (listPage.ts) for as many as it shows,
 * then a query for the first `queryMissed` tasks it did not include (older tasks, or a provider
 * without the list route). `asked` names those queried; a task the provider does not know is
 * among them but in neither map.
 */
async function readTasks(
	ctx: KlingContext,
	taskIds: string[],
	policy: RequestPolicy,
	lookups: LookupMemory,
	reading: Reading,
): Promise<TaskStates & { asked: string[] }> {
	const found = new Map<string, KlingTask>();
	if (taskIds.length >= reading.listFrom) {
		// A failed list is not fatal: the per-task queries below still answer.
		const page = await listedAmong(ctx, taskIds, policy, { pageSize: reading.pageSize });
		for (const [id, task] of page?.found ?? []) found.set(id, task);
	}
	const asked = taskIds.filter((taskId) => !found.has(taskId)).slice(0, reading.queryMissed);
	const failures = new Map<string, unknown>();
	const queried = await mapSettled(asked.length, MAX_PARALLEL_QUERIES, async (index) => {
		const task = normaliseTask(await findTask(ctx, asked[index], policy, 'any', lookups));
		if (task) found.set(asked[index], task);
	});
	queried.forEach(
		(result, index) => result.status === 'rejected' && failures.set(asked[index], result.reason),
	);
	return { tasks: found, failures, asked };
}

/**
 * The current state of many tasks (by task_id or external_task_id) in as few requests as possible:
 * one list page for a batch, sized to it, then a query for each task the page did not include. A
 * task the provider does not know is in neither map. One task's failed query does not cost the
 * others their answers: with a batch of queries under transient faults, all-or-nothing would
 * rarely answer any.
 */
export async function queryTasks(
	ctx: KlingContext,
	taskIds: string[],
	policy: RequestPolicy,
	lookups: LookupMemory = {},
): Promise<TaskStates> {
	const pageSize = Math.min(LIST_PAGE.maxSize, Math.max(30, taskIds.length * 2));
	const { tasks, failures } = await readTasks(ctx, taskIds, policy, lookups, {
		listFrom: LIST_FROM_TASKS,
		pageSize,
		queryMissed: taskIds.length,
	});
	return { tasks, failures };
}

/**
 * Which of these tasks (oldest first) have ended, for the slot accounting while a callback batch is
 * being submitted: one list page of Kling's largest size, which shows every recent task at once,
 * plus a query for the oldest task the page missed (other workflows' newer tasks can push it off
 * the page). At most two requests per check however many tasks are held or the account holds:
 * tasks the page misses are learnt one per check. A task Kling no longer knows holds no slot, so it
 * counts as ended; a failed query fails the check, which is asked again.
 */
export async function endedAmong(
	ctx: KlingContext,
	taskIds: string[],
	policy: RequestPolicy,
	lookups: LookupMemory = {},
): Promise<Set<string>> {
	const { tasks, failures, asked } = await readTasks(ctx, taskIds, policy, lookups, {
		listFrom: 1,
		pageSize: LIST_PAGE.maxSize,
		queryMissed: 1,
	});
	if (failures.size > 0) throw [...failures.values()][0];
	const ended = (taskId: string) => {
		const task = tasks.get(taskId);
		return task ? isTerminal(task.task_status) : asked.includes(taskId);
	};
	return new Set(taskIds.filter(ended));
}
