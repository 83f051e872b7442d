import { createHmac } from 'node:crypto';

import { AUTH_SECRET_FIELDS } from '../../../shared/kling';
import { safeEqual } from '../../../shared/safeEqual';

/**
 * Callback mode's batch identity in the resume URL (`kling_batch`, `kling_items`,
 * `kling_execution`) is plain query text that n8n does not sign: whoever holds the URL (Kling, a
 * gateway, a proxy log) could edit it. So the node signs it with a key only this credential holds
 * and verifies it before any provider request.
 */

/**
 * Fixed label: a key derived for resume URLs cannot be mistaken for (or used as) the credential's
 * own key.
 */
const RESUME_URL_PURPOSE = 'n8n-nodes-kling-expand/resume-url/v1';

/**
 * An HMAC key only holders of this credential's secret values can compute; undefined when it has
 * none.
 */
export function resumeKey(credentials: Record<string, unknown>): Buffer | undefined {
	const secrets = AUTH_SECRET_FIELDS.map((field) => credentials[field]).filter(
		(value): value is string => typeof value === 'string' && value.length > 0,
	);
	if (secrets.length === 0) return undefined;
	return createHmac('sha256', secrets.join('\u0000')).update(RESUME_URL_PURPOSE).digest();
}

export interface BatchIdentity {
	/** n8n's id of the execution, never read from the URL when verifying. */
	executionId: string;
	batchId: string;
	itemCount: number;
	/**
	 * The execution the batch's external ids name, when it is not this one: n8n's Retry keeps the ids
	 * the retried execution made.
	 */
	origin?: string;
}

/**
 * base64url HMAC-SHA256 over the batch identity, each field length-delimited by a separator the
 * values cannot contain.
 */
export function signBatch(key: Buffer, identity: BatchIdentity): string {
	return createHmac('sha256', key)
		.update(
			`${identity.executionId}\n${identity.batchId}\n${identity.itemCount}` +
				(identity.origin === undefined ? '' : `\n${identity.origin}`),
		)
		.digest('base64url');
}

export function verifyBatch(key: Buffer, identity: BatchIdentity, signature: string): boolean {
	return safeEqual(signBatch(key, identity), signature);
}

/** The resume URL's query parameters that carry the batch identity and its signature. */
const RESUME_QUERY = {
	execution: 'kling_execution',
	batch: 'kling_batch',
	items: 'kling_items',
	origin: 'kling_origin',
	signature: 'kling_signature',
} as const;

/** More items than this in one callback batch is not a resume URL this node made. */
const MAX_ITEMS = 100_000;

/**
 * This node's resume URL: the execution's (`$execution.resumeUrl`, whose token n8n checks per
 * execution) with the node's id as its last path segment. n8n resumes only the waiting node whose
 * restart webhook path equals that segment (KlingExpand.node.ts declares `{{ $nodeId }}`), so a
 * later wait of another node (a Wait node "On Webhook Call", another callback-mode node) cannot be
 * resumed with it.
 */
export function nodeResumeUrl(executionResumeUrl: string, nodeId: string): string {
	const url = new URL(executionResumeUrl);
	url.pathname = `${url.pathname.replace(/\/+$/, '')}/${encodeURIComponent(nodeId)}`;
	return url.toString();
}

/** n8n's resume URL with the batch identity and its signature added. */
export function signedResumeUrl(resumeUrl: string, key: Buffer, identity: BatchIdentity): string {
	const url = new URL(resumeUrl);
	url.searchParams.set(RESUME_QUERY.execution, identity.executionId);
	url.searchParams.set(RESUME_QUERY.batch, identity.batchId);
	url.searchParams.set(RESUME_QUERY.items, String(identity.itemCount));
	if (identity.origin !== undefined) url.searchParams.set(RESUME_QUERY.origin, identity.origin);
	url.searchParams.set(RESUME_QUERY.signature, signBatch(key, identity));
	return url.toString();
}

/**
 * What a resume callback's query claims (nothing trusted yet), or undefined when it is not a resume
 * URL this node made.
 */
export function claimedBatch(query: Record<string, unknown>):
	| {
			claimedExecutionId: unknown;
			batchId: string;
			itemCount: number;
			origin?: string;
			signature: string;
	  }
	| undefined {
	const batchId = query[RESUME_QUERY.batch];
	const signature = query[RESUME_QUERY.signature];
	const itemCount = Number(query[RESUME_QUERY.items]);
	if (
		typeof batchId !== 'string' ||
		!batchId ||
		typeof signature !== 'string' ||
		!Number.isInteger(itemCount) ||
		itemCount < 1 ||
		itemCount > MAX_ITEMS
	) {
		return undefined;
	}
	const origin = query[RESUME_QUERY.origin];
	return {
		claimedExecutionId: query[RESUME_QUERY.execution],
		batchId,
		itemCount,
		...(typeof origin === 'string' && origin !== '' ? { origin } : {}),
		signature,
	};
}
