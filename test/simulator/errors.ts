/** A refusal the simulator answers with Kling's envelope `{code, message, request_id, data: null}`. */
export class KlingError extends Error {
	constructor(
		readonly code: number,
		message = defaultMessageForCode(code),
	) {
		super(message);
	}
}

/**
 * HTTP status Kling pairs with each service code (the contract's error table).
 * @see /work/shared/reference/kling-expand-api.md "Error codes (Kling)"
 */
export function httpStatusForCode(code: number): number {
	if (code >= 1000 && code <= 1004) return 401;
	if (code >= 1100 && code <= 1102) return 429;
	if (code === 1103) return 403;
	if (code === 1202 || code === 1203) return 404;
	if (code >= 1302 && code <= 1304) return 429;
	if (code === 5001) return 503;
	if (code === 5002) return 504;
	if (code >= 5000) return 500;
	return 400;
}

const DEFAULT_MESSAGES: Record<number, string> = {
	1000: 'Authentication failed',
	1001: 'Authorization is empty',
	1002: 'Authorization is invalid',
	1003: 'Authorization is not yet valid',
	1004: 'Authorization has expired',
	1100: 'Account exception',
	1101: 'Account in arrears',
	1102: 'Resource pack depleted or expired',
	1103: 'Unauthorized access to requested resource',
	1200: 'Invalid request',
	1201: 'Invalid request parameters',
	1202: 'Invalid request method',
	1203: 'Requested resource does not exist',
	1300: 'Trigger platform policy',
	1301: 'Trigger content security policy',
	1302: 'API request too fast, rate limit exceeded',
	1303: 'Concurrency or QPS exceeds the resource pack limit',
	1304: 'Trigger IP whitelist policy',
	5000: 'Server internal error',
	5001: 'Server temporarily unavailable, usually due to maintenance',
	5002: 'Server internal timeout, usually due to backlog',
};

export function defaultMessageForCode(code: number): string {
	return DEFAULT_MESSAGES[code] ?? `Error ${code}`;
}
