import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AccessKeyPair, ApiSurface } from './types';

/** Keys the simulator accepts when none are configured; `npm run simulator` prints them. */
export const SIMULATOR_DEFAULT_KEYS = {
	apiKey: 'sim-api-key',
	accessKey: 'sim-access-key',
	secretKey: 'sim-secret-key',
	cometKey: 'sim-comet-key',
	/** base64 of "kling-simulator-webhook-secret!!" (32 bytes). */
	webhookSecret: 'whsec_a2xpbmctc2ltdWxhdG9yLXdlYmhvb2stc2VjcmV0ISE=',
} as const;

export interface AcceptedCredentials {
	apiKeys: string[];
	accessKeys: AccessKeyPair[];
	cometKeys: string[];
}

const EMPTY = 1001;
const INVALID = 1002;
const NOT_YET_VALID = 1003;
const EXPIRED = 1004;

/**
 * Checks `Authorization: Bearer <x>` for one surface. Kling direct takes a plain API key or a
 * JWT; CometAPI takes its own keys only, so a key of the wrong kind is simply invalid.
 * @returns null when accepted, otherwise the Kling code to answer (1001–1004).
 */
export function authErrorCode(
	authorization: string | undefined,
	surface: ApiSurface,
	credentials: AcceptedCredentials,
	nowSeconds = Math.floor(Date.now() / 1000),
): number | null {
	const header = authorization?.trim() ?? '';
	if (!header) return EMPTY;
	const match = /^Bearer(?:\s+(.*))?$/i.exec(header);
	if (!match) return INVALID;
	const token = match[1]?.trim() ?? '';
	if (!token) return EMPTY;
	if (surface === 'comet') return credentials.cometKeys.includes(token) ? null : INVALID;
	if (credentials.apiKeys.includes(token)) return null;
	return klingJwtErrorCode(token, credentials.accessKeys, nowSeconds);
}

/**
 * Verifies a Kling JWT for real: HS256 signature keyed by the secret of the access key named in
 * `iss`, then `nbf` and `exp` (seconds, no leeway).
 * @see /work/shared/reference/kling-expand-api.md "JWT from access key + secret key"
 */
export function klingJwtErrorCode(
	token: string,
	accessKeys: AccessKeyPair[],
	nowSeconds: number,
): number | null {
	const parts = token.split('.');
	if (parts.length !== 3) return INVALID;
	const header = decodeJsonSegment(parts[0]);
	const claims = decodeJsonSegment(parts[1]);
	if (header?.alg !== 'HS256' || typeof claims?.iss !== 'string') return INVALID;
	const pair = accessKeys.find((candidate) => candidate.accessKey === claims.iss);
	if (!pair) return INVALID;

	const expected = createHmac('sha256', pair.secretKey).update(`${parts[0]}.${parts[1]}`).digest();
	const actual = Buffer.from(parts[2], 'base64url');
	if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return INVALID;

	if (typeof claims.nbf === 'number' && claims.nbf > nowSeconds) return NOT_YET_VALID;
	if (typeof claims.exp !== 'number') return INVALID;
	if (claims.exp <= nowSeconds) return EXPIRED;
	return null;
}

function decodeJsonSegment(segment: string): Record<string, unknown> | undefined {
	try {
		const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
		return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
	} catch {
		return undefined;
	}
}
