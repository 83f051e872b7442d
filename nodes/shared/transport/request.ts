import type {
	IDataObject,
	IExecuteFunctions,
	IHttpRequestMethods,
	IWebhookFunctions,
} from 'n8n-workflow';

import type { EndpointCredentials } from '../endpoint';
import { apiHost, expandEndpoint } from '../endpoint';
import { parseKlingCode, redactSecrets } from '../errors';
import { SECRET_FIELDS } from '../kling';
import { KlingFailure } from './failure';
import { jsonBodyBytes } from './jsonBody';
import type { RequestPolicy } from './retry';
import { DEFAULT_POLICY, settle, withRetries } from './retry';
import type { StreamResponse } from './stream';
import { deadlineSignal, readStream, untilAborted } from './stream';

export type KlingContext = IExecuteFunctions | IWebhookFunctions;

export interface KlingRequest {
	method: IHttpRequestMethods;
	/** Appended to the expand endpoint: '' or '/<task id>'. */
	path?: string;
	body?: IDataObject;
	qs?: IDataObject;
}

/**
 * An API answer larger than this is not one Kling sends (a 500-task list page is well under 1 MB).
 */
const MAX_API_ANSWER_BYTES = 32 * 1024 * 1024;

/**
 * One authenticated request to the expand API, unwrapped to its `data`, or a KlingFailure.
 * Redirects are not followed (Kling's API never redirects: a 3xx means the Base URL or a proxy is
 * wrong, and following it would send the key and the create elsewhere), and the Request Timeout is
 * a deadline for the whole exchange, not only for silence.
 */
export async function sendOnce(
	ctx: KlingContext,
	request: KlingRequest,
	policy: RequestPolicy,
): Promise<unknown> {
	const credentials = (await ctx.getCredentials('klingApi')) as EndpointCredentials;
	const url = `${expandEndpoint(credentials)}${request.path ?? ''}`;
	// A body holding an image is sent as the bytes it was written into, its only copy.
	const bytes = request.body && (await jsonBodyBytes(request.body));
	const deadline = deadlineSignal(policy.timeoutMs, policy.signal);
	const sent = ctx.helpers.httpRequestWithAuthentication.call(ctx, 'klingApi', {
		method: request.method,
		url,
		body: bytes ?? request.body,
		...(bytes && { headers: { 'Content-Type': 'application/json' } }),
		qs: request.qs,
		json: true,
		encoding: 'stream',
		returnFullResponse: true,
		ignoreHttpStatusErrors: true,
		disableFollowRedirect: true,
		timeout: policy.timeoutMs,
		abortSignal: deadline,
	}) as Promise<StreamResponse>;
	// n8n replaces this abortSignal with the execution's cancel signal, so the deadline is also raced
	// here.
	const outcome = await settle(
		async () => await untilAborted(sent, deadline, (late) => late.body.destroy()),
	);
	if (!outcome.ok)
		throw requestFailure(outcome.error, url, deadline, policy, 'The Kling API request');
	const response = outcome.value;
	if (response.statusCode >= 300 && response.statusCode < 400) {
		response.body.destroy();
		throw redirectFailure(response, url, apiHost(credentials));
	}
	const read = await readStream(response.body, {
		signal: deadline,
		maxBytes: MAX_API_ANSWER_BYTES,
		atLimit: 'fail',
	});
	if (read.aborted) throw requestFailure(undefined, url, deadline, policy, 'The Kling API answer');
	if (read.interrupted) throw new KlingFailure('network', `The answer from ${url} was interrupted`);
	if (read.overLimit)
		throw new KlingFailure(
			'malformed',
			`The answer from ${url} is larger than ${MAX_API_ANSWER_BYTES} bytes`,
			undefined,
			response.statusCode,
		);
	return unwrapEnvelope(response.statusCode, read.bytes, secretsOf(credentials));
}

/** A 3xx from the API: named with its target and the Base URL, never followed, never retried. */
function redirectFailure(response: StreamResponse, url: string, base: string): KlingFailure {
	const header = response.headers.location;
	const location = typeof header === 'string' ? resolveUrl(header, url) : undefined;
	const failure = new KlingFailure(
		'redirect',
		`The Kling API answered HTTP ${response.statusCode}, a redirect` +
			`${location ? ` to ${location}` : ''}, which was not followed`,
		undefined,
		response.statusCode,
	);
	failure.remedy =
		`Kling's API does not redirect, so ${base} is not the API itself: check the ` +
		`Base URL Override in the credential (or clear it), or the proxy in between. Nothing was ` +
		`submitted.`;
	return failure;
}

function resolveUrl(location: string, base: string): string {
	try {
		return new URL(location, base).toString();
	} catch {
		return location;
	}
}

/**
 * The credential's secret values, so a provider answer that quotes one loses it (see
 * redactSecrets).
 */
function secretsOf(credentials: object): string[] {
	const fields = credentials as Record<string, unknown>;
	return SECRET_FIELDS.map((name) => fields[name]).filter(
		(value): value is string => typeof value === 'string',
	);
}

/** Network error codes that waiting cannot heal, what each means, and what to check. */
const PERMANENT_NETWORK_ERRORS: Array<{ codes: RegExp; meaning: string; remedy: string }> = [
	{
		codes: /^(ENOTFOUND|EAI_NONAME|EAI_NODATA|EAI_FAIL)$/,
		meaning: 'the host name does not resolve',
		remedy:
			"Check the host in the credential's Base URL Override (or the Region), and this machine's " +
			'DNS.',
	},
	{
		codes: /^ECONNREFUSED$/,
		meaning: 'the connection was refused (nothing listens at that address and port)',
		remedy:
			"Check the host and port in the credential's Base URL Override, and that the service there " +
			'is running.',
	},
	{
		codes: /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL|^EPROTO$/,
		meaning: 'its TLS certificate is not trusted or the TLS handshake failed',
		remedy:
			'Check that the URL uses https only where the server speaks TLS, and that its certificate ' +
			'is valid (a private CA needs NODE_EXTRA_CA_CERTS).',
	},
];

/**
 * The error and its causes: n8n wraps the transport error in a NodeApiError, which keeps it as
 * `cause`.
 */
function causeChain(error: unknown): Array<{ code?: unknown; name?: unknown; message?: unknown }> {
	const chain: Array<{ code?: unknown; name?: unknown; message?: unknown }> = [];
	for (
		let level = error;
		level !== null && typeof level === 'object' && chain.length < 6;
		level = (level as { cause?: unknown }).cause
	) {
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
	const failure = new KlingFailure(
		'network',
		`${what} from ${hostOf(url)} did not complete within the Request Timeout of ` +
			`${policy.timeoutMs / 1000} s`,
	);
	failure.remedy =
		'The server is slow or sends its answer very slowly; raise the Request Timeout option if it ' +
		'is only slow.';
	return failure;
}

/**
 * A request that threw, classified: our deadline; a permanent network error (fails at once, with
 * the cause and the host); the credential refusing itself; or a transient one (retried). Only codes
 * and our own words go into the message: the raw error holds the request, Authorization header
 * included.
 */
export function requestFailure(
	error: unknown,
	url: string,
	deadline: AbortSignal | undefined,
	policy: RequestPolicy,
	what: string,
): KlingFailure {
	if (deadline?.aborted && !policy.signal?.aborted) return deadlineFailure(url, policy, what);
	const chain = causeChain(error);
	const host = hostOf(url);
	const credential = chain.find((level) => level.name === CREDENTIAL_ERROR_NAME);
	if (credential) return new KlingFailure('credential', String(credential.message));
	const ssrf = chain.find(
		(level) => typeof level.name === 'string' && level.name.startsWith('SsrfBlocked'),
	);
	if (ssrf) {
		const failure = new KlingFailure(
			'unreachable',
			`${what} to ${host} was blocked by n8n's SSRF protection: ${String(ssrf.message)}`,
		);
		failure.remedy =
			'Ask the n8n administrator to allow this host (N8N_SSRF_ALLOWED_HOSTNAMES or the allowed ' +
			"IP ranges), or use the provider's own host.";
		return failure;
	}
	const code = chain
		.map((level) => level.code)
		.find((value): value is string => typeof value === 'string' && /^[A-Z][A-Z0-9_]+$/.test(value));
	const permanent = code && PERMANENT_NETWORK_ERRORS.find((entry) => entry.codes.test(code));
	if (permanent) {
		const failure = new KlingFailure(
			'unreachable',
			`${what} could not reach ${host}: ${permanent.meaning} (${code})`,
		);
		failure.remedy = `${permanent.remedy} Nothing was sent, so nothing was submitted.`;
		return failure;
	}
	const message = chain
		.map((level) => level.message)
		.find((value): value is string => typeof value === 'string' && value !== '');
	return new KlingFailure(
		'network',
		`${what} to ${host} failed: ${code ?? message ?? 'network error'}`,
	);
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
export function unwrapEnvelope(
	statusCode: number,
	rawBody: unknown,
	secrets: readonly string[] = [],
): unknown {
	let body = rawBody;
	if (typeof body === 'string' || Buffer.isBuffer(body)) {
		const parsed = parseJson(body.toString());
		if (!parsed.ok)
			throw new KlingFailure(
				'malformed',
				`The provider answered HTTP ${statusCode} with a body that is not JSON`,
				undefined,
				statusCode,
			);
		body = parsed.value;
	}
	const envelope = (body ?? {}) as {
		code?: unknown;
		message?: unknown;
		request_id?: unknown;
		data?: unknown;
		error?: { message?: unknown };
	};
	const message =
		typeof envelope.message === 'string' ? redactSecrets(envelope.message, secrets) : undefined;
	const requestId = typeof envelope.request_id === 'string' ? envelope.request_id : undefined;
	if (envelope.code === null && message === '404') {
		throw new KlingFailure(
			'routeUnavailable',
			'CometAPI route unavailable',
			undefined,
			statusCode,
			requestId,
		);
	}
	const code = parseKlingCode(envelope.code);
	if (code === 0 && statusCode < 400) return envelope.data;
	if (code !== undefined && code !== 0)
		throw new KlingFailure('api', message ?? '', code, statusCode, requestId);
	if (envelope.error && typeof envelope.error === 'object') {
		const text =
			typeof envelope.error.message === 'string'
				? redactSecrets(envelope.error.message, secrets)
				: 'unknown error';
		throw new KlingFailure(
			'http',
			`The gateway answered HTTP ${statusCode}: ${text}`,
			undefined,
			statusCode,
			requestId,
		);
	}
	if (statusCode >= 400)
		throw new KlingFailure(
			'http',
			`The provider answered HTTP ${statusCode}${message ? `: ${message}` : ''}`,
			undefined,
			statusCode,
			requestId,
		);
	return envelope.data ?? body;
}

/** A request that may be repeated safely: queries and lists. */
export async function klingRequest(
	ctx: KlingContext,
	request: KlingRequest,
	policy: RequestPolicy = DEFAULT_POLICY,
): Promise<unknown> {
	return await withRetries(async () => await sendOnce(ctx, request, policy), policy);
}
