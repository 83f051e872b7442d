import { createHash } from 'node:crypto';

import type { IDataObject } from 'n8n-workflow';

import { RESULT_RETENTION_DAYS } from '../../shared/kling';
import type { KlingTask } from '../../shared/task';
import type { KlingContext } from '../../shared/transport/request';
import type { RequestPolicy } from '../../shared/transport/retry';
import { readListPage } from './listPage';
import type { TaskRun } from './run';

/*
 * Opt-in reuse of a task made for the same input: the honest answer to a crash. n8n saves nothing
 * of a node that was running when n8n (or a worker) died, and a Retry of the crashed execution
 * starts the node afresh under a new execution id, so the node cannot know what the crashed run
 * sent. With the option on, each generated external_task_id ends in a fingerprint of what the
 * create asks for, and before sending, the run reads the account's recent tasks once and takes a
 * task with the same fingerprint instead of paying for a new one.
 */

/** An older task than Kling keeps has nothing left to reuse. */
export const MAX_REUSE_HOURS = RESULT_RETENTION_DAYS * 24;

/** The list pages one run reads at most (newest first, Kling's largest pages). */
const MAX_SCAN_PAGES = 10;

const FINGERPRINT = /-f([0-9a-f]{16})$/;

/**
 * The Reuse option in milliseconds, 0 when off. Its type and range are checked with the other
 * options (validateOptionTypes), against the field's bounds.
 */
export const reuseWindowMs = (hours: unknown) =>
	typeof hours === 'number' && hours > 0 ? hours * 3_600_000 : 0;

/**
 * 16 hex digits of SHA-256 over what the create asks Kling to do (image, ratios, n, prompt,
 * watermark), not over the ids and the callback URL, which differ from run to run. An image given
 * by URL is fingerprinted by its URL.
 */
export function inputFingerprint(body: IDataObject): string {
	const asked = Object.keys(body)
		.filter((key) => key !== 'external_task_id' && key !== 'callback_url')
		.sort()
		.map((key) => [key, body[key]]);
	return createHash('sha256').update(JSON.stringify(asked)).digest('hex').slice(0, 16);
}

/** A generated external id with the input's fingerprint appended. */
export const withFingerprint = (externalId: string, fingerprint: string) =>
	`${externalId}-f${fingerprint}`;

/** A generated external id without its fingerprint, if it has one. */
export const withoutFingerprint = (externalId: string) => externalId.replace(FINGERPRINT, '');

/**
 * The account's tasks created within the window that carry a fingerprint and did not fail, by
 * fingerprint, oldest first: newest first, page by page, until a page reaches past the window.
 */
async function recentTasks(
	ctx: KlingContext,
	windowMs: number,
	policy: RequestPolicy,
): Promise<Map<string, KlingTask[]>> {
	const since = Date.now() - windowMs;
	const byFingerprint = new Map<string, KlingTask[]>();
	for (let pageNum = 1; pageNum <= MAX_SCAN_PAGES; pageNum++) {
		const page = await readListPage(ctx, pageNum, policy);
		let reachedPastWindow = false;
		for (const task of page.tasks) {
			if ((task.created_at ?? 0) < since) {
				reachedPastWindow = true;
				continue;
			}
			const fingerprint = FINGERPRINT.exec(task.external_task_id ?? '')?.[1];
			if (!fingerprint || task.task_status === 'failed') continue;
			const tasks = byFingerprint.get(fingerprint) ?? [];
			tasks.unshift(task);
			byFingerprint.set(fingerprint, tasks);
		}
		if (reachedPastWindow || !page.more) break;
	}
	return byFingerprint;
}

/**
 * A task created for the same input within the window that no other item of this run has taken,
 * or undefined. Two items with the same input each take their own (or create one). The account's
 * tasks are read once per run, by its first item that asks.
 */
export async function takeReusableTask(
	ctx: KlingContext,
	run: TaskRun,
	fingerprint: string,
	windowMs: number,
): Promise<KlingTask | undefined> {
	run.reusable ??= recentTasks(ctx, windowMs, run.policy);
	return (await run.reusable).get(fingerprint)?.shift();
}
