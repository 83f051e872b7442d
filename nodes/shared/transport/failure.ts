import type { INode, JsonObject } from 'n8n-workflow';
import { NodeApiError } from 'n8n-workflow';

import { describeKlingCode, redactSecrets } from '../errors';

/**
 * - `network`: a transient transport failure (reset, timeout, broken stream): retried.
 * - `unreachable`: a network failure that waiting cannot heal (unknown host, connection refused, an
 *   untrusted certificate, n8n's SSRF protection): not retried, and nothing reached the provider.
 * - `redirect`: the API answered 3xx; not followed, so nothing was submitted.
 * - `credential`: the credential itself is unusable; nothing was sent.
 */
export type FailureKind =
	| 'api'
	| 'http'
	| 'network'
	| 'unreachable'
	| 'redirect'
	| 'credential'
	| 'malformed'
	| 'routeUnavailable';

/**
 * A request the provider did not answer with code 0, as plain data so retry decisions stay
 * testable. Built only from the response's code, message and request id, or a network error's code:
 * never from request options, so no header (and no key) can leak into an error; a message that
 * quotes one anyway is redacted.
 */
export class KlingFailure extends Error {
	constructor(
		readonly kind: FailureKind,
		message: string,
		readonly code?: number,
		readonly httpStatus?: number,
		readonly requestId?: string,
	) {
		super(redactSecrets(message));
	}

	/** What the user should do, when the kind alone does not say (set where the failure is built). */
	remedy?: string;

	/** Set by withRetries when it did not try again because the try would start past the deadline. */
	stoppedAtDeadline?: boolean;

	/**
	 * The external_task_id of a create whose answer was lost and that no lookup has confirmed or
	 * ruled out: it may exist (and be billed), so the error names it, apart from the tasks known to
	 * exist.
	 */
	unconfirmedTask?: string;

	/** Whether waiting and asking again can help: decided on Kling's code, not on HTTP 429 alone. */
	get retry(): 'backoff' | 'resign' | 'never' {
		if (this.kind === 'network' || this.kind === 'malformed') return 'backoff';
		if (this.kind === 'api' && this.code !== undefined) return describeKlingCode(this.code).retry;
		return this.httpStatus !== undefined && (this.httpStatus === 429 || this.httpStatus >= 500)
			? 'backoff'
			: 'never';
	}

	/**
	 * A create that failed this way may still have been accepted (and billed) by the provider. A
	 * code that came inside a successful HTTP answer is the provider's own verdict on this request,
	 * not a lost answer: nothing to look up.
	 */
	get mayHaveBeenAccepted(): boolean {
		if (this.kind === 'api' && this.httpStatus !== undefined && this.httpStatus < 300) return false;
		return (
			this.kind === 'network' ||
			this.kind === 'malformed' ||
			(this.retry === 'backoff' && this.code !== 1302 && this.code !== 1303)
		);
	}
}

/** The provider's own words, in brackets after our headline (when it gave any). */
const providerText = (message: string) => (message ? ` (${message})` : '');

/**
 * The user-facing error: Kling's code and what it means, its message, the request id, and a way
 * out.
 */
export function toNodeApiError(
	node: INode,
	failure: KlingFailure,
	context: { itemIndex?: number; submitted?: string } = {},
): NodeApiError {
	const known = failure.code !== undefined ? describeKlingCode(failure.code) : undefined;
	const headline =
		failure.kind === 'routeUnavailable'
			? 'CometAPI answered {"code": null, "message": "404"}: its gateway does not serve the ' +
				'Kling expand route for this key'
			: known
				? `Kling error ${failure.code}: ${known.meaning}${providerText(failure.message)}`
				: failure.message;
	const remedy =
		failure.kind === 'routeUnavailable'
			? 'Use the Kling (Direct) provider in the credential, or a base URL override that serves ' +
				'/kling/v1/images/editing/expand.'
			: failure.remedy !== undefined
				? redactSecrets(failure.remedy)
				: (known?.remedy ?? '');
	const parts = [remedy];
	if (failure.requestId) parts.push(`Request ID: ${failure.requestId}.`);
	if (context.submitted) parts.push(context.submitted);
	if (failure.unconfirmedTask) {
		parts.push(
			`A create whose answer was lost may still have made a task under external_task_id ` +
				`${failure.unconfirmedTask}: look it up with Get Task (Find By: External Task ID) before ` +
				`submitting again.`,
		);
	}
	const response: JsonObject = { message: headline };
	if (failure.code !== undefined) response.code = failure.code;
	if (failure.requestId) response.request_id = failure.requestId;
	const error = new NodeApiError(node, response, {
		message: headline,
		description: parts.filter(Boolean).join(' '),
		httpCode: failure.httpStatus !== undefined ? String(failure.httpStatus) : undefined,
		itemIndex: context.itemIndex,
	});
	// NodeApiError swaps a message holding a common code (ECONNREFUSED, ENOTFOUND…) for a generic
	// one; ours names the host and the cause.
	error.message = headline;
	return error;
}
