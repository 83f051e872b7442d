import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import { ATTEMPTS } from '../../../shared/kling';
import { taskOutputItems } from '../../../shared/output';
import type { KlingTask } from '../../../shared/task';
import { TaskFailedError } from '../../../shared/task';
import { KlingFailure } from '../../../shared/transport/failure';
import type { PollSchedule } from '../../helpers/polling';
import { TaskWatcher } from '../../helpers/polling';
import { retireGeneratedId, submitOnce } from '../../tasks/createOnce';
import { queryTasks } from '../../tasks/lookup';
import type { Batch, ItemRun } from '../batch';
import { prepareCreate } from '../create';
import { waitSettingsFrom } from '../descriptions';

/*
 * Submit and Wait in poll mode: each item is submitted within the run's slots and waited for by the
 * run's one watcher, which asks Kling about every pending task in the same requests; the worker is
 * held until the last task has ended.
 */

/**
 * Share of the elapsed wait used as the next interval: keeps detection lag near 10 % of a task's
 * duration.
 */
const POLL_GROWTH = 0.1;

/** A failed check that asking again cannot heal. */
const isFinal = (error: unknown) => error instanceof KlingFailure && error.retry === 'never';

/** Kling's own account of how long an ended task took: created to its last update. */
const lengthOf = (task: KlingTask) =>
	task.created_at !== undefined && task.updated_at !== undefined
		? task.updated_at - task.created_at
		: undefined;

/** One watcher per run, kept by the Batch, so every item's checks share list requests. */
function watcherFor(ctx: IExecuteFunctions, batch: Batch): TaskWatcher<KlingTask> {
	if (!batch.watcher) {
		const { minIntervalMs, maxIntervalMs } = batch.wait;
		const schedule: PollSchedule = { minIntervalMs, maxIntervalMs, growth: POLL_GROWTH };
		// Polling retries on its own next tick, so one request attempt per tick is enough.
		const policy = { ...batch.policy, attempts: ATTEMPTS.check };
		batch.watcher = new TaskWatcher<KlingTask>(
			async (taskIds) => {
				const { tasks, failures } = await queryTasks(ctx, taskIds, policy, batch.lookups);
				// A final answer (e.g. the key was revoked) ends the waits; the other unanswered are asked
				// next tick.
				const final = [...failures.values()].find(isFinal);
				if (final) throw final;
				return tasks;
			},
			schedule,
			batch.policy.signal,
			isFinal,
			lengthOf,
		);
	}
	return batch.watcher;
}

/**
 * One item in poll mode (called by the router's item loop): submitted once within the run's slots,
 * waited for, its images downloaded when asked. A failed task is the item's error.
 */
export async function execute(
	this: IExecuteFunctions,
	itemIndex: number,
	run: ItemRun,
	batch: Batch,
): Promise<INodeExecutionData[]> {
	const prepared = await prepareCreate(this, itemIndex, batch);
	const { timeoutMs } = waitSettingsFrom(
		this.getNodeParameter('options', itemIndex, {}) as IDataObject,
	);
	const slots = await batch.slots.acquire(prepared.images);
	let task: KlingTask;
	let deadlineAt: number;
	try {
		const submitted = await submitOnce(this, prepared, run, batch);
		deadlineAt = Date.now() + timeoutMs;
		task = await watcherFor(this, batch).waitFor(
			submitted.task_id,
			timeoutMs,
			submitted.created_at,
		);
	} finally {
		batch.slots.release(slots);
	}
	if (task.task_status === 'failed') {
		if (prepared.externalIdIsOurs) retireGeneratedId(this, itemIndex);
		throw new TaskFailedError(task);
	}
	const json = { ...task, expansion: { ...prepared.expansion } } as unknown as IDataObject;
	const download = this.getNodeParameter('downloadImages', itemIndex, true) as boolean;
	// The Timeout covers the downloads too: no try starts after it (retry.ts).
	return await taskOutputItems(this, json, task, {
		download,
		options: this.getNodeParameter('options', itemIndex, {}) as IDataObject,
		policy: { ...batch.policy, deadlineAt },
	});
}
