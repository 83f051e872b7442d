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
	watermark_info?: { enabled?: boolean };
	task_result?: { images: KlingResultImage[] };
}

export interface KlingResultImage {
	index: number;
	url: string;
	watermark_url?: string;
}

export type TaskStatus = 'submitted' | 'processing' | 'succeed' | 'failed';
export const TASK_STATUSES: TaskStatus[] = ['submitted', 'processing', 'succeed', 'failed'];
export const isTerminal = (status: string) => status === 'succeed' || status === 'failed';

const asRecord = (value: unknown): Record<string, unknown> | undefined =>
	value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
const asString = (value: unknown) => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined);
const asNumber = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

/**
 * Copies the known fields of a task from whatever the provider sent (query, list item, create answer,
 * callback body; an object or, as one captured page shows, a one-element array). Only named fields
 * are read, so `__proto__` or `constructor` keys in the input cannot reach the output.
 * Returns undefined when the value is not a task.
 */
export function normaliseTask(raw: unknown): KlingTask | undefined {
	const source = asRecord(Array.isArray(raw) ? raw[0] : raw);
	const taskId = asString(source?.task_id);
	const status = asString(source?.task_status);
	if (!source || !taskId || !status || !(TASK_STATUSES as string[]).includes(status)) return undefined;
	const externalTaskId = asString(asRecord(source.task_info)?.external_task_id);
	const task: KlingTask = { task_id: taskId, task_status: status as TaskStatus };
	const message = asString(source.task_status_msg);
	if (message) task.task_status_msg = message;
	if (externalTaskId) {
		task.external_task_id = externalTaskId;
		task.task_info = { external_task_id: externalTaskId };
	}
	for (const key of ['created_at', 'updated_at'] as const) {
		const value = asNumber(source[key]);
		if (value !== undefined) task[key] = value;
	}
	const units = asString(source.final_unit_deduction);
	if (units !== undefined) task.final_unit_deduction = units;
	const watermark = asRecord(source.watermark_info);
	if (watermark && typeof watermark.enabled === 'boolean') task.watermark_info = { enabled: watermark.enabled };
	const images = asRecord(source.task_result)?.images;
	if (Array.isArray(images)) {
		task.task_result = {
			images: images.flatMap((entry, position) => {
				const image = asRecord(entry);
				const url = asString(image?.url);
				if (!image || !url) return [];
				const result: KlingResultImage = { index: asNumber(image.index) ?? position, url };
				const watermarkUrl = asString(image.watermark_url);
				if (watermarkUrl) result.watermark_url = watermarkUrl;
				return [result];
			}),
		};
	}
	return task;
}

/** A task that ended `failed` (HTTP 200 and code 0: the failure is in the task, not the request). */
export class TaskFailedError extends Error {
	constructor(readonly task: KlingTask) {
		super(`Kling task ${task.task_id} failed: ${task.task_status_msg || 'no reason given'}`);
	}
}
