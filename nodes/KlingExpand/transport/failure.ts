import type { INode, JsonObject } from 'n8n-workflow';
import { NodeApiError } from 'n8n-workflow';

import { describeKlingCode, redactSecrets } from '../helpers/errors';

export type FailureKind = 'api' | 'http' | 'network' | 'malformed' | 'routeUnavailable';

/**
 * A request the provider did not answer with code 0, as plain data so retry decisions stay testable.
 * Built only from the response's code, message and request id, or a network error's code: never from
 * request options, so no header (and no key) can leak into an error; a message that quotes one anyway
 * is redacted.
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

	/** Whether waiting and asking again can help: decided on Kling's code, not on HTTP 429 alone. */
	get retry(): 'backoff' | 'resign' | 'never' {
		if (this.kind === 'network' || this.kind === 'malformed') return 'backoff';
		if (this.kind === 'api' && this.code !== undefined) return describeKlingCode(this.code).retry;
		return this.httpStatus !== undefined && (this.httpStatus === 429 || this.httpStatus >= 500) ? 'backoff' : 'never';
	}

	/** A create that failed this way may still have been accepted (and billed) by the provider. */
	get mayHaveBeenAccepted(): boolean {
		return this.kind === 'network' || this.kind === 'malformed' || (this.retry === 'backoff' && this.code !== 1302 && this.code !== 1303);
	}
}

/** The user-facing error: Kling's code and what it means, its message, the request id, and a way out. */
export function toNodeApiError(node: INode, failure: KlingFailure, context: { itemIndex?: number; taskIds?: string[] } = {}): NodeApiError {
	const known = failure.code !== undefined ? describeKlingCode(failure.code) : undefined;
	const headline =
		failure.kind === 'routeUnavailable'
			? 'CometAPI answered {"code": null, "message": "404"}: its gateway does not serve the Kling expand route for this key'
			: known
				? `Kling error ${failure.code}: ${known.meaning}${failure.message ? ` (${failure.message})` : ''}`
				: failure.message;
	const remedy =
		failure.kind === 'routeUnavailable'
			? 'Use the Kling (Direct) provider in the credential, or a base URL override that serves /kling/v1/images/editing/expand.'
			: (known?.remedy ?? '');
	const parts = [remedy];
	if (failure.requestId) parts.push(`Request ID: ${failure.requestId}.`);
	if (context.taskIds?.length) parts.push(`Tasks already submitted: ${context.taskIds.join(', ')} (use Get Task to fetch them).`);
	const response: JsonObject = { message: headline };
	if (failure.code !== undefined) response.code = failure.code;
	if (failure.requestId) response.request_id = failure.requestId;
	return new NodeApiError(node, response, {
		message: headline,
		description: parts.filter(Boolean).join(' '),
		httpCode: failure.httpStatus !== undefined ? String(failure.httpStatus) : undefined,
		itemIndex: context.itemIndex,
	});
}
