/** A task as this package outputs it, from the node and the trigger alike. */
export interface KlingTask {
	task_id: string;
	task_status: TaskStatus;
	task_status_msg?: string;
	external_task_id?: string;
	task_info?: { external_task_id?: string };
	created_at?: number;
	updated_at?: number;
	final_unit_deduction?: string;
	final_balance_deduction?: string;
	watermark_info?: { enabled?: boolean };
	task_result?: { images: KlingResultImage[] };
	/**
	 * Fields this package does not know, passed through as plain JSON (e.g. a newer callback's
	 * `billing`).
	 */
	[field: string]: unknown;
}

export interface KlingResultImage {
	index: number;
	url: string;
	watermark_url?: string;
}

export type TaskStatus = 'submitted' | 'processing' | 'succeed' | 'failed';
export const TASK_STATUSES: TaskStatus[] = ['submitted', 'processing', 'succeed', 'failed'];
export const isTerminal = (status: string) => status === 'succeed' || status === 'failed';

/** The newer shape spells some statuses differently; this package outputs Kling's legacy names. */
const STATUS_ALIASES: Record<string, TaskStatus> = {
	succeeded: 'succeed',
	success: 'succeed',
	completed: 'succeed',
};

const asRecord = (value: unknown): Record<string, unknown> | undefined =>
	value !== null && typeof value === 'object' && !Array.isArray(value)
		? (value as Record<string, unknown>)
		: undefined;
const asString = (value: unknown) =>
	typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
const asNumber = (value: unknown) =>
	typeof value === 'number' && Number.isFinite(value) ? value : undefined;
const firstString = (...values: unknown[]) =>
	values.map(asString).find((value) => value !== undefined && value !== '');

function statusOf(value: unknown): TaskStatus | undefined {
	const status = asString(value)?.toLowerCase();
	if (status === undefined) return undefined;
	if ((TASK_STATUSES as string[]).includes(status)) return status as TaskStatus;
	return STATUS_ALIASES[status];
}

/** The fields a task is output with that this package reads by name; any other is passed through. */
export const TASK_FIELDS: ReadonlySet<string> = new Set([
	'task_id',
	'task_status',
	'task_status_msg',
	'external_task_id',
	'task_info',
	'created_at',
	'updated_at',
	'final_unit_deduction',
	'final_balance_deduction',
	'watermark_info',
	'task_result',
]);

/** Keys that could reach an object's prototype if copied by assignment. */
const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Fields read (and renamed) into the known ones: the output names and the newer shape's; everything
 * else is passed through by `plainCopy`.
 */
const READ_FIELDS = new Set([
	...TASK_FIELDS,
	'id',
	'status',
	'status_msg',
	'external_id',
	'outputs',
]);

/**
 * A copy of JSON-like data without prototype keys, functions or anything deeper than a few levels:
 * an unknown field from the provider is shown to the user as plain data, never as a way into our
 * objects.
 */
function plainCopy(value: unknown, depth = 0): unknown {
	if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
	if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
	if (depth >= 4 || typeof value !== 'object') return undefined;
	if (Array.isArray(value))
		return value
			.slice(0, 100)
			.map((entry) => plainCopy(entry, depth + 1))
			.filter((entry) => entry !== undefined);
	const copy: Record<string, unknown> = {};
	for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
		if (UNSAFE_KEYS.has(key)) continue;
		const copied = plainCopy(entry, depth + 1);
		if (copied !== undefined) copy[key] = copied;
	}
	return copy;
}

/**
 * Result images from the legacy `task_result.images` or the newer `outputs` (objects or bare URLs).
 */
function imagesOf(source: Record<string, unknown>): KlingResultImage[] | undefined {
	const legacy = asRecord(source.task_result)?.images;
	const entries = Array.isArray(legacy)
		? legacy
		: Array.isArray(source.outputs)
			? source.outputs
			: undefined;
	if (!entries) return undefined;
	return entries.flatMap((entry, position) => {
		const image = typeof entry === 'string' ? { url: entry } : asRecord(entry);
		const url = asString(image?.url);
		if (!image || !url) return [];
		const result: KlingResultImage = { index: asNumber(image.index) ?? position, url };
		const watermarkUrl = asString(image.watermark_url);
		if (watermarkUrl) result.watermark_url = watermarkUrl;
		return [result];
	});
}

/**
 * Copies a task from whatever the provider sent (query, list item, create answer, callback body; an
 * object or, as one captured page shows, a one-element array), in either of Kling's shapes:
 * - legacy: `task_id`, `task_status` ('succeed'), `task_info.external_task_id`,
 *   `task_result.images`;
 * - newer: `id`, `status` ('succeeded'), `external_id`, `outputs[]`, `billing`.
 * The output always uses the legacy names. Known fields are read by name; other fields are passed
 * through as plain JSON (`plainCopy`), so `__proto__` or `constructor` keys cannot reach the
 * output. Returns undefined when the value is not a task.
 */
export function normaliseTask(raw: unknown): KlingTask | undefined {
	const source = asRecord(Array.isArray(raw) ? raw[0] : raw);
	const taskId = firstString(source?.task_id, source?.id);
	const status = statusOf(source?.task_status ?? source?.status);
	if (!source || !taskId || !status) return undefined;
	const task: KlingTask = { task_id: taskId, task_status: status };
	for (const [key, value] of Object.entries(source)) {
		if (READ_FIELDS.has(key) || UNSAFE_KEYS.has(key)) continue;
		const copied = plainCopy(value);
		if (copied !== undefined) task[key] = copied;
	}
	const message = firstString(source.task_status_msg, source.status_msg);
	if (message) task.task_status_msg = message;
	const externalTaskId = firstString(
		asRecord(source.task_info)?.external_task_id,
		source.external_task_id,
		source.external_id,
	);
	if (externalTaskId) {
		task.external_task_id = externalTaskId;
		task.task_info = { external_task_id: externalTaskId };
	}
	for (const key of ['created_at', 'updated_at'] as const) {
		const value = asNumber(source[key]);
		if (value !== undefined) task[key] = value;
	}
	for (const key of ['final_unit_deduction', 'final_balance_deduction'] as const) {
		const value = asString(source[key]);
		if (value !== undefined) task[key] = value;
	}
	const watermark = asRecord(source.watermark_info);
	if (watermark && typeof watermark.enabled === 'boolean')
		task.watermark_info = { enabled: watermark.enabled };
	const images = imagesOf(source);
	if (images) task.task_result = { images };
	return task;
}

/**
 * A task that ended `failed` (HTTP 200 and code 0: the failure is in the task, not the request).
 */
export class TaskFailedError extends Error {
	constructor(readonly task: KlingTask) {
		super(`Kling task ${task.task_id} failed: ${task.task_status_msg || 'no reason given'}`);
	}
}
