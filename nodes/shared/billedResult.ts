import type { IExecuteFunctions, IWebhookFunctions } from 'n8n-workflow';

import { LATE_IMAGE_READS, RESULT_RETENTION_DAYS } from './kling';
import { sleepUnlessCancelled, WaitCancelledError } from './sleep';
import type { KlingTask } from './task';
import { normaliseTask } from './task';
import { KlingFailure } from './transport/failure';
import { klingRequest } from './transport/request';
import type { RequestPolicy } from './transport/retry';
import { pastDeadline } from './transport/retry';

/*
 * A task that succeeded is billed: when its images cannot be had, the error says so and names the
 * task, so nobody creates (and pays for) it again to get a result that Get Task can still fetch.
 */

/** A succeeded, billed task whose images the node could not get. `remedy` says what to do. */
export class BilledResultError extends Error {
	constructor(
		readonly task: KlingTask,
		message: string,
		readonly remedy: string,
	) {
		super(message);
	}
}

const billed = (task: KlingTask) => `Kling task ${task.task_id} succeeded and was billed`;

const fetchLater = (task: KlingTask) =>
	`Fetch its images with Get Task (task_id ${task.task_id}, Download Images on) within ` +
	`${RESULT_RETENTION_DAYS} days of the task; creating it again would bill again.`;

/**
 * The task with its result images listed: a succeeded task that lists none yet is read again
 * LATE_IMAGE_READS times, the waits doubling from the Retry Delay, never past the policy's deadline.
 * Throws a BilledResultError naming the task when the images are still not listed.
 */
export async function withListedImages(
	ctx: IExecuteFunctions | IWebhookFunctions,
	task: KlingTask,
	policy: RequestPolicy,
): Promise<KlingTask> {
	if ((task.task_result?.images.length ?? 0) > 0) return task;
	const started = Date.now();
	let reads = 0;
	for (let read = 1; read <= LATE_IMAGE_READS; read++) {
		const delay = policy.retryDelayMs * 2 ** (read - 1);
		if (pastDeadline(policy, Date.now() + delay)) break;
		await sleepUnlessCancelled(delay, policy.signal);
		const answer = await klingRequest(
			ctx,
			{ method: 'GET', path: `/${encodeURIComponent(task.task_id)}` },
			policy,
		);
		reads++;
		const fresh = normaliseTask(answer);
		if (fresh?.task_result?.images.length) return fresh;
	}
	const waited = Math.round((Date.now() - started) / 100) / 10;
	throw new BilledResultError(
		task,
		`${billed(task)}, but lists no result images (read again ${reads} ` +
			`${reads === 1 ? 'time' : 'times'} over ${waited} s)`,
		`Kling has not listed the images yet. ${fetchLater(task)}`,
	);
}

/**
 * What a failure to download a succeeded task's images becomes: an error that says the task was
 * billed and names it; an expired or removed result URL (HTTP 404 or 403) also says that Kling
 * deletes results after RESULT_RETENTION_DAYS days. A cancel stays a cancel.
 */
export function billedResultError(task: KlingTask, error: unknown, policy: RequestPolicy): unknown {
	if (error instanceof BilledResultError || error instanceof WaitCancelledError) return error;
	const reason = error instanceof Error ? error.message : String(error);
	if (
		error instanceof KlingFailure &&
		error.kind === 'http' &&
		(error.httpStatus === 404 || error.httpStatus === 403)
	)
		return new BilledResultError(
			task,
			`${billed(task)}, but its result image is gone: ${reason}. Kling deletes result images ` +
				`${RESULT_RETENTION_DAYS} days after the task`,
			`Get Task (task_id ${task.task_id}) shows the URLs Kling lists now. Once the task is ` +
				`${RESULT_RETENTION_DAYS} days old only running the expansion again (billed again) ` +
				'gives a result: download results when their task ends.',
		);
	// The deadline may be a retry delay away when the retries stop for it (withRetries).
	const timedOut =
		(error instanceof KlingFailure && error.stoppedAtDeadline === true) || pastDeadline(policy)
			? " (the node's Timeout has passed, so it was not tried again)"
			: '';
	return new BilledResultError(
		task,
		`${billed(task)}, but its images could not be downloaded: ${reason}${timedOut}`,
		fetchLater(task),
	);
}
