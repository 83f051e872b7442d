import type { IDataObject, IExecuteFunctions, IHttpRequestMethods, IWebhookFunctions } from 'n8n-workflow';

import type { EndpointCredentials } from '../endpoint';
import { apiHost, expandEndpoint } from '../endpoint';
import { mapSettled } from '../../KlingExpand/helpers/concurrency';
import { parseKlingCode, redactSecrets } from '../errors';
import type { KlingTask } from '../task';
import { normaliseTask } from '../task';
import { sleepUnlessCancelled } from '../../KlingExpand/helpers/polling';
import { KlingFailure } from './failure';
import type { StreamResponse } from './stream';
import { deadlineSignal, readStream, untilAborted } from './stream';

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

/** An API answer larger than this is not one Kling sends (a 500-task list page is well under 1 MB). */
const MAX_API_ANSWER_BYTES = 32 * 1024 * 1024;

/**
 * One authenticated request to the expand API, unwrapped to its `data`, or a KlingFailure. Redirects
 * are not followed (Kling's API never redirects: a 3xx means the Base URL or a proxy is wrong, and
 * following it would send the key and the create elsewhere), and the Request Timeout is a deadline for
 * the whole exchange, not only for silence.
 */
async function sendOnce(ctx: KlingContext, request: KlingRequest, policy: RequestPolicy): Promise<unknown> {
	const credentials = (await ctx.getCredentials('klingApi')) as EndpointCredentials;
	const url = `${expandEndpoint(credentials)}${request.path ?? ''}`;
	const deadline = deadlineSignal(policy.timeoutMs, policy.signal);
	const sent = ctx.helpers.httpRequestWithAuthentication.call(ctx, 'klingApi', {
		method: request.method,
		url,
		body: request.body,
		qs: request.qs,
		json: true,
		encoding: 'stream',
		returnFullResponse: true,
		ignoreHttpStatusErrors: true,
		disableFollowRedirect: true,
		timeout: policy.timeoutMs,
		abortSignal: deadline,
	}) as Promise<StreamResponse>;
	// n8n replaces this abortSignal with the execution's cancel signal, so the deadline is also raced here.
	const outcome = await settle(async () => await untilAborted(sent, deadline, (late) => late.body.destroy()));
	if (!outcome.ok) throw requestFailure(outcome.error, url, deadline, policy, 'The Kling API request');
	const response = outcome.value;
	if (response.statusCode >= 300 && response.statusCode < 400) {
		response.body.destroy();
		throw redirectFailure(response, url, apiHost(credentials));
	}
	const read = await readStream(response.body, { signal: deadline, maxBytes: MAX_API_ANSWER_BYTES, atLimit: 'fail' });
	if (read.aborted) throw requestFailure(undefined, url, deadline, policy, 'The Kling API answer');
	if (read.interrupted) throw new KlingFailure('network', `The answer from ${url} was interrupted`);
	if (read.overLimit) throw new KlingFailure('malformed', `The answer from ${url} is larger than ${MAX_API_ANSWER_BYTES} bytes`, undefined, response.statusCode);
	return unwrapEnvelope(response.statusCode, read.bytes, secretsOf(credentials));
}

/** A 3xx from the API: named with its target and the Base URL, never followed, never retried. */
function redirectFailure(response: StreamResponse, url: string, base: string): KlingFailure {
	const header = response.headers.location;
	const location = typeof header === 'string' ? resolveUrl(header, url) : undefined;
	const failure = new KlingFailure(
		'redirect',
		`The Kling API answered HTTP ${response.statusCode}, a redirect${location ? ` to ${location}` : ''}, which was not followed`,
		undefined,
		response.statusCode,
	);
	failure.remedy = `Kling's API does not redirect, so ${base} is not the API itself: check the Base URL Override in the credential (or clear it), or the proxy in between. Nothing was submitted.`;
	return failure;
}

function resolveUrl(location: string, base: string): string {
	try {
		return new URL(location, base).toString();
	} catch {
		return location;
	}
}

/** The credential's secret values, so a provider answer that quotes one loses it (see redactSecrets). */
function secretsOf(credentials: object): string[] {
	const fields = credentials as Record<string, unknown>;
	return ['apiKey', 'accessKey', 'secretKey', 'cometApiKey', 'webhookSecret'].map((name) => fields[name]).filter((value): value is string => typeof value === 'string');
}

/** Network error codes that waiting cannot heal, what each means, and what to check. */
const PERMANENT_NETWORK_ERRORS: Array<{ codes: RegExp; meaning: string; remedy: string }> = [
	{
		codes: /^(ENOTFOUND|EAI_NONAME|EAI_NODATA|EAI_FAIL)$/,
		meaning: 'the host name does not resolve',
		remedy: "Check the host in the credential's Base URL Override (or the Region), and this machine's DNS.",
	},
	{
		codes: /^ECONNREFUSED$/,
		meaning: 'the connection was refused (nothing listens at that address and port)',
		remedy: "Check the host and port in the credential's Base URL Override, and that the service there is running.",
	},
	{
		codes: /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL|^EPROTO$/,
		meaning: 'its TLS certificate is not trusted or the TLS handshake failed',
		remedy: 'Check that the URL uses https only where the server speaks TLS, and that its certificate is valid (a private CA needs NODE_EXTRA_CA_CERTS).',
	},
];

/** The error and its causes: n8n wraps the transport error in a NodeApiError, which keeps it as `cause`. */
function causeChain(error: unknown): Array<{ code?: unknown; name?: unknown; message?: unknown }> {
	const chain: Array<{ code?: unknown; name?: unknown; message?: unknown }> = [];
	for (let level = error; level !== null && typeof level === 'object' && chain.length < 6; level = (level as { cause?: unknown }).cause) {
		chain.push(level as { code?: unknown; name?: unknown; message?: unknown });
	}
	return chain;
}

/** Where a request went, for messages: scheme, host and port only. */
function hostOf(url: string): string {
	try {
		return new URL(url).host;
	} catch {
		return 'the host';
	}
}

function deadlineFailure(url: string, policy: RequestPolicy, what: string): KlingFailure {
	const failure = new KlingFailure('network', `${what} from ${hostOf(url)} did not complete within the Request Timeout of ${policy.timeoutMs / 1000} s`);
	failure.remedy = 'The server is slow or sends its answer very slowly; raise the Request Timeout option if it is only slow.';
	return failure;
}

/**
 * A request that threw, classified: our deadline; a permanent network error (fails at once, with the
 * cause and the host); the credential refusing itself; or a transient one (retried). Only codes and our
 * own words go into the message: the raw error holds the request, Authorization header included.
 */
export function requestFailure(error: unknown, url: string, deadline: AbortSignal | undefined, policy: RequestPolicy, what: string): KlingFailure {
	if (deadline?.aborted && !policy.signal?.aborted) return deadlineFailure(url, policy, what);
	const chain = causeChain(error);
	const host = hostOf(url);
	const credential = chain.find((level) => level.name === CREDENTIAL_ERROR_NAME);
	if (credential) return new KlingFailure('credential', String(credential.message));
	const ssrf = chain.find((level) => typeof level.name === 'string' && level.name.startsWith('SsrfBlocked'));
	if (ssrf) {
		const failure = new KlingFailure('unreachable', `${what} to ${host} was blocked by n8n's SSRF protection: ${String(ssrf.message)}`);
		failure.remedy = "Ask the n8n administrator to allow this host (N8N_SSRF_ALLOWED_HOSTNAMES or the allowed IP ranges), or use the provider's own host.";
		return failure;
	}
	const code = chain.map((level) => level.code).find((value): value is string => typeof value === 'string' && /^[A-Z][A-Z0-9_]+$/.test(value));
	const permanent = code && PERMANENT_NETWORK_ERRORS.find((entry) => entry.codes.test(code));
	if (permanent) {
		const failure = new KlingFailure('unreachable', `${what} could not reach ${host}: ${permanent.meaning} (${code})`);
		failure.remedy = `${permanent.remedy} Nothing was sent, so nothing was submitted.`;
		return failure;
	}
	const message = chain.map((level) => level.message).find((value): value is string => typeof value === 'string' && value !== '');
	return new KlingFailure('network', `${what} to ${host} failed: ${code ?? message ?? 'network error'}`);
}

/**
 * What the credential's `authenticate` names the error it throws when the credential cannot be used
 * (a weak Callback Signing Secret): such a request was never sent, and is not retried.
 */
export const CREDENTIAL_ERROR_NAME = 'KlingCredentialError';

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
 * created, and is returned instead of an error or a second task. A failure after a lost answer that no
 * lookup settled carries the id as `unconfirmedTask`, so the error names what may exist.
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
		const found = await findTask(ctx, body.external_task_id, policy, 'externalId');
		return found !== undefined && ours(found) ? found : undefined;
	};
	let answerLost = false;
	let unconfirmed = false;
	const send = async () => await sendOnce(ctx, { method: 'POST', body }, policy);
	const created = await settle(
		async () =>
			await withRetries(send, policy, async (failure) => {
				if (!failure.mayHaveBeenAccepted) return undefined;
				answerLost = true;
				unconfirmed = true;
				const found = await lookUp();
				// Not found: the lost create made nothing, and the next one may be sent.
				unconfirmed = found !== undefined;
				return found;
			}),
	);
	if (created.ok) return created.value;
	const error = created.error;
	const refusedAsTaken = error instanceof KlingFailure && error.code === 1201;
	if (refusedAsTaken && (idIsOurs || answerLost)) {
		// If this lookup fails, the refusal itself is the clearer error to show.
		const existing = await settle(lookUp);
		if (existing.ok && existing.value !== undefined) return existing.value;
		unconfirmed = true;
	}
	if (error instanceof KlingFailure && (unconfirmed || error.mayHaveBeenAccepted)) error.unconfirmedTask = body.external_task_id;
	throw error;
}

/** How far Kling's clock (task created_at) may be behind ours. */
const CLOCK_SKEW_MS = 10 * 60_000;

/**
 * The ways a task can be asked for by its external_task_id. Kling's pages say a task can be queried "by
 * external_task_id or task_id" without fixing the syntax, so each is tried until one answers:
 * - `path`: `GET …/expand/<id>`, the query path, taking either id;
 * - `pathFlag`: `GET …/expand/<id>?external_task_id=true`, the path id marked as an external one;
 * - `collection`: `GET …/expand?external_task_id=<id>`, the list filtered by it.
 */
export type ExternalIdForm = 'path' | 'pathFlag' | 'collection';
export const EXTERNAL_ID_FORMS: readonly ExternalIdForm[] = ['path', 'pathFlag', 'collection'];

/** The form that found a task in this run (keyed by the node's execution context), tried first next time. */
const learntForms = new WeakMap<object, ExternalIdForm>();

function lookupRequest(form: ExternalIdForm, id: string): KlingRequest {
	const path = `/${encodeURIComponent(id)}`;
	if (form === 'path') return { method: 'GET', path };
	if (form === 'pathFlag') return { method: 'GET', path, qs: { external_task_id: 'true' } };
	return { method: 'GET', qs: { external_task_id: id } };
}

/** "Not found" from a form: the task may not exist, or the provider may not read the id this way. */
const foundNothing = (error: unknown) =>
	error instanceof KlingFailure && (error.code === 1203 || error.code === 1201 || (error.kind === 'http' && error.httpStatus === 404));

/** The task one form finds, or undefined. A collection answer is searched: a provider that ignores the filter sends its newest tasks. */
async function lookUpBy(ctx: KlingContext, form: ExternalIdForm, id: string, policy: RequestPolicy): Promise<unknown> {
	const outcome = await settle(async () => await klingRequest(ctx, lookupRequest(form, id), policy));
	if (!outcome.ok) {
		if (foundNothing(outcome.error)) return undefined;
		throw outcome.error;
	}
	const entries = Array.isArray(outcome.value) ? outcome.value : [outcome.value];
	if (form !== 'collection') return normaliseTask(outcome.value) ? outcome.value : undefined;
	return entries.find((entry) => normaliseTask(entry)?.external_task_id === id);
}

/**
 * A task by task_id or external_task_id; undefined when it does not exist. `by`:
 * - 'taskId': the query path only;
 * - 'externalId': every lookup form, the one this run learnt first;
 * - 'any' (an id of either kind): the query path first, which answers a task_id, then the other forms.
 */
export async function findTask(ctx: KlingContext, id: string, policy: RequestPolicy, by: 'any' | 'taskId' | 'externalId' = 'any'): Promise<unknown> {
	const learnt = learntForms.get(ctx);
	const order: Array<ExternalIdForm | undefined> = by === 'taskId' ? ['path'] : by === 'externalId' ? [learnt, ...EXTERNAL_ID_FORMS] : ['path', learnt, ...EXTERNAL_ID_FORMS];
	const forms = [...new Set(order.filter((form): form is ExternalIdForm => form !== undefined))];
	for (const form of forms) {
		const task = await lookUpBy(ctx, form, id, policy);
		if (task === undefined) continue;
		if (by !== 'taskId' && (form !== 'path' || normaliseTask(task)?.task_id !== id)) learntForms.set(ctx, form);
		return task;
	}
	return undefined;
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
