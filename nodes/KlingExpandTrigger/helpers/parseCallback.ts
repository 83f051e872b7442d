import type { KlingTask } from '../../shared/task';
import { normaliseTask } from '../../shared/task';

/**
 * The task a callback body carries (bare, or in the API's `{ code, message, data }` envelope), or
 * why it is none.
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
	return task
		? { task }
		: { refusal: 'the body is not a Kling task (task_id and task_status are required)' };
}
