import type { IDataObject, IExecuteFunctions, IHttpRequestMethods, IWebhookFunctions } from 'n8n-workflow';

import type { EndpointCredentials } from '../helpers/endpoint';
import { expandEndpoint } from '../helpers/endpoint';
import { mapSettled } from '../helpers/concurrency';
import { parseKlingCode, redactSecrets } from '../helpers/errors';
import type { KlingTask } from '../helpers/task';
import { normaliseTask } from '../helpers/task';
import { sleepUnlessCancelled } from '../helpers/polling';
import { KlingFailure } from './failure';

export { KlingFailure, toNodeApiError } from './failure';

export type KlingContext = IExecuteFunctions | IWebhookFunctions;

/** How patient one request is. All in milliseconds. */
export interface RequestPolicy {
	attempts: number;
	retryDelayMs: number;
	timeoutMs: number;
	signal?: AbortSignal;
}

export const DEFAULT_POLICY: RequestPolicy = { attempts: 8, retryDelayMs: 1000, timeoutMs: 30_000 };

/** Exponential backoff with jitter, so a batch that hit the concurrency limit does not retry in lockstep. */
export function backoffDelay(attempt: number, baseMs: number): number {
	return Math.min(baseMs * 30, baseMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
}

/** Runs `send` until it succeeds, retrying only what Kling's code says can heal; 1003/1004 get one fresh token. */
export async function withRetries<T>(
	send: () => Promise<T>,
	policy: RequestPolicy,
	beforeRetry?: (failure: KlingFailure) => Promise<T | undefined>,
): Promise<T> {
	let resigned = false;
	for (let attempt = 1; ; attempt++) {
		const outcome = await settle(send);
		if (outcome.ok) return outcome.value;
		const error = outcome.error;
		if (!(error instanceof KlingFailure)) throw error;
		const again = error.retry === 'backoff' || (error.retry === 'resign' && !resigned);
		if (!again || attempt >= policy.attempts) throw error;
		if (error.retry === 'resign') resigned = true;
		else await sleepUnlessCancelled(backoffDelay(attempt, policy.retryDelayMs), policy.signal);
		const recovered = await beforeRetry?.(error);
		if (recovered !== undefined) return recovered;
	}
}

/** A call's value or what it threw, so the caller decides outside a catch block which failures to keep. */
export async function settle<T>(call: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
	try {
		return { ok: true, value: await call() };
	} catch (error) {
		return { ok: false, error };
	}
}

interface KlingRequest {
	method: IHttpRequestMethods;
	/** Appended to the expand endpoint: '' or '/<task id>'. */
	path?: string;
	body?: IDataObject;
	qs?: IDataObject;
}

/** One authenticated request to the expand API, unwrapped to its `data`, or a KlingFailure. */
async function sendOnce(ctx: KlingContext, request: KlingRequest, policy: RequestPolicy): Promise<unknown> {
	const credentials = (await ctx.getCredentials('klingApi')) as EndpointCredentials;
	const outcome = await settle(
		async () =>
			(await ctx.helpers.httpRequestWithAuthentication.call(ctx, 'klingApi', {
				method: request.method,
				url: `${expandEndpoint(credentials)}${request.path ?? ''}`,
				body: request.body,
				qs: request.qs,
				json: true,
				returnFullResponse: true,
				ignoreHttpStatusErrors: true,
				timeout: policy.timeoutMs,
				abortSignal: policy.signal,
			})) as { statusCode: number; body: unknown },
	);
	if (!outcome.ok) throw networkFailure(outcome.error, 'Network error');
	return unwrapEnvelope(outcome.value.statusCode, outcome.value.body, secretsOf(credentials));
}

/** The credential's secret values, so a provider answer that quotes one loses it (see redactSecrets). */
function secretsOf(credentials: object): string[] {
	const fields = credentials as Record<string, unknown>;
	return ['apiKey', 'accessKey', 'secretKey', 'cometApiKey', 'webhookSecret'].map((name) => fields[name]).filter((value): value is string => typeof value === 'string');
}

/** Only a network error's code and message: the raw error holds the request, Authorization header included. */
export function networkFailure(error: unknown, what: string): KlingFailure {
	const { code, message } = error as { code?: string; message?: string };
	return new KlingFailure('network', `${what}: ${code ?? message ?? 'request failed'}`);
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
	try {
		return { ok: true, value: JSON.parse(text) };
	} catch {
		return { ok: false };
	}
}

/** Kling's `{code, message, request_id, data}` envelope; CometAPI's gateway errors; broken JSON. */
export function unwrapEnvelope(statusCode: number, rawBody: unknown, secrets: readonly string[] = []): unknown {
	let body = rawBody;
	if (typeof body === 'string' || Buffer.isBuffer(body)) {
		const parsed = parseJson(body.toString());
		if (!parsed.ok) throw new KlingFailure('malformed', `The provider answered HTTP ${statusCode} with a body that is not JSON`, undefined, statusCode);
		body = parsed.value;
	}
	const envelope = (body ?? {}) as { code?: unknown; message?: unknown; request_id?: unknown; data?: unknown; error?: { message?: unknown } };
	const message = typeof envelope.message === 'string' ? redactSecrets(envelope.message, secrets) : undefined;
	const requestId = typeof envelope.request_id === 'string' ? envelope.request_id : undefined;
	if (envelope.code === null && message === '404') {
		throw new KlingFailure('routeUnavailable', 'CometAPI route unavailable', undefined, statusCode, requestId);
	}
	const code = parseKlingCode(envelope.code);
	if (code === 0 && statusCode < 400) return envelope.data;
	if (code !== undefined && code !== 0) throw new KlingFailure('api', message ?? '', code, statusCode, requestId);
	if (envelope.error && typeof envelope.error === 'object') {
		const text = typeof envelope.error.message === 'string' ? redactSecrets(envelope.error.message, secrets) : 'unknown error';
		throw new KlingFailure('http', `The gateway answered HTTP ${statusCode}: ${text}`, undefined, statusCode, requestId);
	}
	if (statusCode >= 400) throw new KlingFailure('http', `The provider answered HTTP ${statusCode}${message ? `: ${message}` : ''}`, undefined, statusCode, requestId);
	return envelope.data ?? body;
}

/** A request that may be repeated safely: queries and lists. */
export async function klingRequest(ctx: KlingContext, request: KlingRequest, policy: RequestPolicy = DEFAULT_POLICY): Promise<unknown> {
	return await withRetries(async () => await sendOnce(ctx, request, policy), policy);
}

/**
 * Creates a task at most once. A create whose answer was lost (network error, broken JSON, a 5xx) may
 * still have been accepted and billed, so before sending it again we look it up by its
 * `external_task_id`, and only re-send when the provider says it does not exist.
 *
 * Kling refuses a create whose external_task_id it already holds (1201). When that id can only be
 * ours (`idIsOurs`: generated for this item and kept for every try, so n8n's Retry On Fail sends it
 * again; or sent by an attempt of this call whose answer was lost), the task it names is the one we
 * created, and is returned instead of an error or a second task.
 */
export async function createTaskOnce(
	ctx: KlingContext,
	body: IDataObject & { external_task_id: string },
	policy: RequestPolicy,
	idIsOurs = false,
): Promise<unknown> {
	const startedAt = Date.now();
	// A user's id may name an old task of theirs: only one created since this call began can be ours.
	const ours = (task: unknown) => idIsOurs || (normaliseTask(task)?.created_at ?? 0) >= startedAt - CLOCK_SKEW_MS;
	const lookUp = async () => {
		const found = await findTask(ctx, body.external_task_id, policy);
		return found !== undefined && ours(found) ? found : undefined;
	};
	let answerLost = false;
	const send = async () => await sendOnce(ctx, { method: 'POST', body }, policy);
	const created = await settle(
		async () =>
			await withRetries(send, policy, async (failure) => {
				if (!failure.mayHaveBeenAccepted) return undefined;
				answerLost = true;
				return await lookUp();
			}),
	);
	if (created.ok) return created.value;
	const refusedAsTaken = created.error instanceof KlingFailure && created.error.code === 1201;
	// If this lookup fails, the refusal itself is the clearer error to show.
	const existing = refusedAsTaken && (idIsOurs || answerLost) ? await settle(lookUp) : undefined;
	if (existing?.ok && existing.value !== undefined) return existing.value;
	throw created.error;
}

/** How far Kling's clock (task created_at) may be behind ours. */
const CLOCK_SKEW_MS = 10 * 60_000;

/** A task by task_id or external_task_id (Kling's query path takes either); undefined when it does not exist. */
export async function findTask(ctx: KlingContext, id: string, policy: RequestPolicy): Promise<unknown> {
	const outcome = await settle(async () => await klingRequest(ctx, { method: 'GET', path: `/${encodeURIComponent(id)}` }, policy));
	if (outcome.ok) return outcome.value;
	if (outcome.error instanceof KlingFailure && outcome.error.code === 1203) return undefined;
	throw outcome.error;
}

/** Per-task queries in flight at once, for the tasks a list page did not include. */
const MAX_PARALLEL_QUERIES = 8;

/** Below this many pending tasks, one query each is as cheap as a list page. */
const LIST_FROM_TASKS = 2;

/** What queryTasks learnt: each task it found, and why each task it could not ask about went unanswered. */
export interface TaskStates {
	tasks: Map<string, KlingTask>;
	failures: Map<string, unknown>;
}

/**
 * The current state of many tasks (by task_id or external_task_id) in as few requests as possible: one
 * list page for a batch, then a query for each task the page did not include (older tasks, or a
 * provider without the list route). A task the provider does not know is in neither map. One task's
 * failed query does not cost the others their answers: with a batch of queries under transient faults,
 * all-or-nothing would rarely answer any.
 */
export async function queryTasks(ctx: KlingContext, taskIds: string[], policy: RequestPolicy): Promise<TaskStates> {
	const wanted = new Set(taskIds);
	const found = new Map<string, KlingTask>();
	if (taskIds.length >= LIST_FROM_TASKS) {
		const pageSize = Math.min(500, Math.max(30, taskIds.length * 2));
		const page = await settle(async () => await klingRequest(ctx, { method: 'GET', qs: { pageNum: 1, pageSize } }, policy));
		// A failed list is not fatal: the per-task queries below still answer.
		if (!page.ok && !(page.error instanceof KlingFailure)) throw page.error;
		for (const entry of page.ok && Array.isArray(page.value) ? page.value : []) {
			const task = normaliseTask(entry);
			// Asked for by task_id or by external_task_id: both are keys Kling answers to.
			const key = task && [task.task_id, task.external_task_id].find((id) => id !== undefined && wanted.has(id));
			if (task && key) found.set(key, task);
		}
	}
	const missing = taskIds.filter((taskId) => !found.has(taskId));
	const failures = new Map<string, unknown>();
	const queried = await mapSettled(missing.length, MAX_PARALLEL_QUERIES, async (index) => {
		const task = normaliseTask(await findTask(ctx, missing[index], policy));
		if (task) found.set(missing[index], task);
	});
	queried.forEach((result, index) => result.status === 'rejected' && failures.set(missing[index], result.reason));
	return { tasks: found, failures };
}
