import { MAX_EXTERNAL_ID_LENGTH, TASK_ID_RULE } from '../../shared/kling';
import type { KlingTask } from '../../shared/task';
import { normaliseTask, TASK_FIELDS } from '../../shared/task';

/*
 * A callback's body is whatever its sender posted, and under Verification: None anyone can post.
 * What the trigger keeps of it (the run's items, the delivery keys in static data) is bounded here,
 * whatever the body holds.
 */

/**
 * The largest callback body read. Kling's callback is a task: nine images with two signed URLs
 * each stay under 40 KB, so 256 KB leaves room for longer URLs and new fields.
 */
export const MAX_CALLBACK_BYTES = 256 * 1024;

/**
 * Fields this package does not know (a newer callback's `billing`) are kept up to this size each,
 * and all together, in characters of JSON; larger ones are dropped and named in the output.
 */
export const UNKNOWN_FIELD_LIMITS = { each: 4096, total: 16384 };

/** Kling's failure reason is a sentence; a longer one is cut to this many characters. */
export const MAX_STATUS_MESSAGE_LENGTH = 1000;

/** Why a body of this many bytes is not read (MAX_CALLBACK_BYTES), or undefined. */
export function callbackSizeRefusal(byteLength: number): string | undefined {
	return byteLength > MAX_CALLBACK_BYTES
		? `the body is ${describeBytes(byteLength)}; a Kling callback is at most ` +
				`${describeBytes(MAX_CALLBACK_BYTES)}`
		: undefined;
}

/**
 * The task a callback body carries (bare, or in the API's `{ code, message, data }` envelope),
 * bounded, or why it is none.
 */
export function parseCallbackTask(rawBody: Buffer): { task: KlingTask } | { refusal: string } {
	let parsed: unknown;
	try {
		parsed = JSON.parse(rawBody.toString('utf8'));
	} catch {
		return { refusal: 'the body is not JSON' };
	}
	const envelope =
		parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
			? (parsed as { data?: unknown })
			: undefined;
	const task = normaliseTask(envelope?.data ?? parsed);
	if (!task)
		return { refusal: 'the body is not a Kling task (task_id and task_status are required)' };
	const badId = taskIdRefusal(task.task_id);
	return badId ? { refusal: badId } : { task: boundedTask(task) };
}

/** Why this is not a task id of Kling's shape and length (TASK_ID_RULE), or undefined. */
export function taskIdRefusal(taskId: string): string | undefined {
	if (taskId.length <= TASK_ID_RULE.maxLength && TASK_ID_RULE.pattern.test(taskId))
		return undefined;
	return `task_id is ${describeText(taskId)}; ${TASK_ID_RULE.text}`;
}

/**
 * The task with an over-long external id, an over-long failure reason and large unknown fields cut
 * or dropped, each named in `dropped_fields` so the output says what it no longer holds.
 */
function boundedTask(task: KlingTask): KlingTask {
	const dropped: string[] = [];
	const externalId = task.external_task_id;
	if (externalId !== undefined && externalId.length > MAX_EXTERNAL_ID_LENGTH) {
		delete task.external_task_id;
		delete task.task_info;
		dropped.push(
			`external_task_id (${externalId.length} characters; at most ${MAX_EXTERNAL_ID_LENGTH} kept)`,
		);
	}
	const message = task.task_status_msg;
	if (message !== undefined && message.length > MAX_STATUS_MESSAGE_LENGTH) {
		task.task_status_msg = `${message.slice(0, MAX_STATUS_MESSAGE_LENGTH)}…`;
		dropped.push(
			`task_status_msg cut to ${MAX_STATUS_MESSAGE_LENGTH} of ${message.length} characters`,
		);
	}
	let total = 0;
	for (const key of Object.keys(task)) {
		if (TASK_FIELDS.has(key)) continue;
		const size = jsonSizeWithin(task[key], UNKNOWN_FIELD_LIMITS.each);
		if (size !== undefined && total + size <= UNKNOWN_FIELD_LIMITS.total) {
			total += size;
			continue;
		}
		delete task[key];
		dropped.push(
			`${describeText(key, 40)} (an unknown field over ${UNKNOWN_FIELD_LIMITS.each} characters, ` +
				`or past ${UNKNOWN_FIELD_LIMITS.total} for all unknown fields)`,
		);
	}
	if (dropped.length > 0) task.dropped_fields = dropped;
	return task;
}

/**
 * The length of the value's JSON, counted without writing it, or undefined once it passes `limit`
 * (the walk stops there, so a 15 MB field costs no copy).
 */
export function jsonSizeWithin(value: unknown, limit: number): number | undefined {
	let size = 0;
	const visit = (entry: unknown): boolean => {
		if (typeof entry === 'string') size += entry.length + 2;
		else if (entry === null || typeof entry !== 'object') size += String(entry).length;
		else if (Array.isArray(entry)) {
			size += 2;
			for (const item of entry) if (!visit(item) || (size += 1) > limit) return false;
		} else {
			size += 2;
			for (const [key, item] of Object.entries(entry)) {
				size += key.length + 4;
				if (size > limit || !visit(item)) return false;
			}
		}
		return size <= limit;
	};
	return visit(value) ? size : undefined;
}

/** A value that may be megabytes long, as a log line can show it: its length and its start. */
function describeText(text: string, shown = 20): string {
	const start = JSON.stringify(text.slice(0, shown));
	return text.length > shown ? `${text.length} characters long (${start}…)` : start;
}

function describeBytes(bytes: number): string {
	return bytes >= 1024 * 1024
		? `${(bytes / 1024 / 1024).toFixed(1)} MB`
		: `${Math.round(bytes / 1024)} KB`;
}
