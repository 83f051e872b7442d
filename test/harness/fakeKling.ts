import type { KlingTask } from '../../nodes/shared/task';
import { KlingFailure } from '../../nodes/shared/transport/failure';
import type { KlingRequest } from '../../nodes/shared/transport/request';

/** What a fake Kling answers besides its tasks. */
export interface FakeKlingOptions {
	/** Lookup forms it reads an external_task_id in (see tasks/lookup.ts); all three by default. */
	externalIdForms?: Array<'path' | 'pathFlag' | 'collection'>;
	/** Whether it has the list route (CometAPI may not). */
	list?: boolean;
	/** Ids whose query fails with a network error, as a transient fault would. */
	failingIds?: string[];
}

const notFound = (id: string) => new KlingFailure('api', `task ${id} not found`, 1203, 200);

/**
 * Kling's task store as `klingRequest` answers it, for unit tests that replace the transport (the
 * behaviour tests use the simulator over HTTP instead): list pages newest first, a query by
 * task_id on the path, and an external_task_id in the forms it reads. `requests` records each
 * request in order, so a test can assert what was asked and how often.
 */
export function fakeKling(tasks: KlingTask[], options: FakeKlingOptions = {}) {
	const { externalIdForms = ['path', 'pathFlag', 'collection'], list = true } = options;
	const requests: KlingRequest[] = [];
	const newestFirst = [...tasks].sort((a, b) => (b.created_at ?? 0) - (a.created_at ?? 0));
	const byTaskId = (id: string) => tasks.find((task) => task.task_id === id);
	const byExternalId = (id: string) => tasks.find((task) => task.external_task_id === id);

	async function request(_ctx: unknown, sent: KlingRequest): Promise<unknown> {
		requests.push(sent);
		const qs = sent.qs ?? {};
		if (sent.path) {
			const id = decodeURIComponent(sent.path.slice(1));
			if (options.failingIds?.includes(id))
				throw new KlingFailure('network', `the query for ${id} was interrupted`);
			const flagged = qs.external_task_id === 'true';
			const task = flagged
				? externalIdForms.includes('pathFlag')
					? byExternalId(id)
					: undefined
				: (byTaskId(id) ?? (externalIdForms.includes('path') ? byExternalId(id) : undefined));
			if (!task) throw notFound(id);
			return task;
		}
		if (typeof qs.external_task_id === 'string') {
			if (!externalIdForms.includes('collection')) return newestFirst.slice(0, 30);
			const task = byExternalId(qs.external_task_id);
			return task ? [task] : [];
		}
		if (!list) throw new KlingFailure('http', 'The provider answered HTTP 404', undefined, 404);
		const pageNum = Number(qs.pageNum ?? 1);
		const pageSize = Number(qs.pageSize ?? 30);
		return newestFirst.slice((pageNum - 1) * pageSize, pageNum * pageSize);
	}

	return { request, requests };
}

/** A task as Kling lists it, with the fields the probe and lookups read. */
export function task(
	index: number,
	status: KlingTask['task_status'],
	times: { created?: number; updated?: number } = {},
): KlingTask {
	return {
		task_id: `t-${index}`,
		external_task_id: `e-${index}`,
		task_status: status,
		created_at: times.created ?? 1000 + index,
		updated_at: times.updated ?? 2000 + index,
	};
}
