import type { KlingTask } from '../../../shared/task';

/**
 * What callback mode's two halves share. Before the execution sleeps, finish() (callback.ts) writes
 * one of these onto each input item; n8n stores them with the waiting execution. The webhook
 * (resume.ts) has no input items of its own, so it reads them back through expressions over the
 * waiting node's input. If the wait times out, n8n resumes without running any node code and
 * passes these items through unchanged: then they are the node's output.
 */

/** Fields on every waiting item. */
interface WaitingItemBase {
	/**
	 * This wait's id for the item's task. Written by finish(); read by resume() to tell this wait
	 * from an earlier one of the same execution (n8n keeps one resume token per execution).
	 */
	external_task_id: string;
	/**
	 * When the wait times out (ms since the epoch): when the batch went to sleep plus the Timeout.
	 * Written by finish(); read by resume(), whose downloads start no try after it, as in poll mode.
	 */
	wait_deadline: number;
}

/** An item whose task Kling accepted: what comes out if the wait times out. */
export interface PendingItem extends WaitingItemBase {
	wait_status: 'timed_out';
	task_id: unknown;
	/**
	 * When Kling created the task, when it said so. Written by finish(); read by resume() to order
	 * the batch's tasks for the probe (probe.ts `createdAt`).
	 */
	created_at?: number;
	/** For the user, if the wait times out: which task to fetch with Get Task. */
	message: string;
}

/** An item Kling never accepted (Continue On Fail): its refusal, kept for the output. */
export interface RefusedItem extends WaitingItemBase {
	wait_status: 'not_submitted';
	/**
	 * The refusal, as the router's error item gave it. Written by finish(); read by resume(), since
	 * n8n drops the run that waited, and its errors, when it resumes.
	 */
	error?: unknown;
	description?: unknown;
	/** A task the refused item had submitted before failing, if any. */
	task_id?: unknown;
}

/** What finish() writes on a waiting input item. */
export type WaitingItem = PendingItem | RefusedItem;

/** A field resume() reads back from a waiting item. */
export type WaitingItemField =
	| 'external_task_id'
	| 'wait_deadline'
	| 'created_at'
	| 'error'
	| 'description';

/** The item callback mode emits for an item when the execution resumes. */
export type ResumedItem =
	/** Its task ended: the task as Kling reports it (plus `error` when it failed). */
	| (KlingTask & { wait_status: 'completed'; error?: string })
	/** Its task ended but its images could not be fetched. */
	| { wait_status: 'completed'; task_id?: string; external_task_id: string; error: string }
	/** It was never submitted: the refusal finish() kept. */
	| { wait_status: 'not_submitted'; external_task_id: string; error: string; description?: string };
