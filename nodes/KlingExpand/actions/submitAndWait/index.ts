import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { downloadOptions } from '../../../shared/descriptions';
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
import { createFields, createOptions, waitOptions, waitSettingsFrom } from '../descriptions';
import { prepareCreate } from '../create';
import * as callbackWait from './callback';

/**
 * Callback mode sets these itself (the resume URL, and ids its webhook can check against the signed
 * batch), so an option there would be ignored: it is not offered.
 */
const SET_BY_CALLBACK_MODE = new Set(['callbackUrl', 'externalTaskId']);

function hiddenInCallbackMode(option: INodeProperties): INodeProperties {
	if (!SET_BY_CALLBACK_MODE.has(option.name)) return option;
	return { ...option, displayOptions: { hide: { '/waitMode': ['callback'] } } };
}

const properties: INodeProperties[] = [
	...createFields,
	{
		displayName: 'Wait Mode',
		name: 'waitMode',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Poll',
				value: 'poll',
				description:
					'Ask Kling until the tasks are done. Works anywhere; holds the execution open while it ' +
					'waits.',
			},
			{
				name: 'Callback (Resume)',
				value: 'callback',
				description:
					'Sleep the execution and resume it when Kling calls back. Holds no worker; n8n must be ' +
					'reachable from Kling at its public URL.',
			},
		],
		default: 'poll',
	},
	{
		displayName:
			'Kling must be able to reach this n8n at its public URL (set N8N_WEBHOOK_URL, formerly ' +
			'WEBHOOK_URL): the execution sleeps and resumes when Kling reports the last task of the ' +
			"run. If the wait times out, the items come out with wait_status 'timed_out' and their " +
			'task_id: fetch those with Get Task. Use Poll when n8n is not reachable from the internet.',
		name: 'callbackNotice',
		type: 'notice',
		default: '',
		displayOptions: { show: { waitMode: ['callback'] } },
	},
	{
		displayName: 'Download Images',
		name: 'downloadImages',
		type: 'boolean',
		default: true,
		description:
			'Whether to download the result images as binary data (Kling deletes them after 30 days)',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [...createOptions.map(hiddenInCallbackMode), ...waitOptions, ...downloadOptions].sort(
			(a, b) => a.displayName.localeCompare(b.displayName),
		),
	},
];

export const description = updateDisplayOptions(
	{ show: { operation: ['submitAndWait'] } },
	properties,
);

/**
 * Wait Mode Callback (Resume): the router's item loop submits each item with this `execute`, then
 * hands the whole batch to `finish`, which puts the execution to sleep until Kling's callbacks
 * (callback.ts).
 */
export const callbackMode = { execute: callbackWait.execute, finish: callbackWait.finish };

/**
 * Share of the elapsed wait used as the next interval: keeps detection lag near 10 % of a task's
 * duration.
 */
const POLL_GROWTH = 0.1;

const watchers = new WeakMap<Batch, TaskWatcher<KlingTask>>();

/** A failed check that asking again cannot heal. */
const isFinal = (error: unknown) => error instanceof KlingFailure && error.retry === 'never';

/** Kling's own account of how long an ended task took: created to its last update. */
const lengthOf = (task: KlingTask) =>
	task.created_at !== undefined && task.updated_at !== undefined
		? task.updated_at - task.created_at
		: undefined;

/** One watcher per run, so every item's checks share list requests. */
function watcherFor(ctx: IExecuteFunctions, batch: Batch): TaskWatcher<KlingTask> {
	let watcher = watchers.get(batch);
	if (!watcher) {
		const { minIntervalMs, maxIntervalMs } = waitSettingsFrom(
			ctx.getNodeParameter('options', 0, {}) as IDataObject,
		);
		const schedule: PollSchedule = { minIntervalMs, maxIntervalMs, growth: POLL_GROWTH };
		// Polling retries on its own next tick, so one request attempt per tick is enough.
		const policy = { ...batch.policy, attempts: ATTEMPTS.check };
		watcher = new TaskWatcher<KlingTask>(
			async (taskIds) => {
				const { tasks, failures } = await queryTasks(ctx, taskIds, policy);
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
		watchers.set(batch, watcher);
	}
	return watcher;
}

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
	try {
		const submitted = await submitOnce(this, prepared, run, batch.policy);
		task = await watcherFor(this, batch).waitFor(submitted.task_id, timeoutMs);
	} finally {
		batch.slots.release(slots);
	}
	if (task.task_status === 'failed') {
		if (prepared.externalIdIsOurs) retireGeneratedId(this, itemIndex);
		throw new TaskFailedError(task);
	}
	const json = { ...task, expansion: { ...prepared.expansion } } as unknown as IDataObject;
	const download = this.getNodeParameter('downloadImages', itemIndex, true) as boolean;
	return await taskOutputItems(this, json, task, {
		download,
		options: this.getNodeParameter('options', itemIndex, {}) as IDataObject,
		policy: batch.policy,
	});
}
