import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type Verdict = { valid: true } | { valid: false; reason: string };

/** Kling's callback signatures may be at most this far from our clock, either way. */
export const TIMESTAMP_TOLERANCE_SECONDS = 300;

/** Constant-time equality that does not reveal the expected value's length: both sides are hashed first. */
export function safeEqual(expected: string | Buffer, actual: string | Buffer): boolean {
	const digest = (value: string | Buffer) => createHash('sha256').update(value).digest();
	return timingSafeEqual(digest(expected), digest(actual)) && Buffer.from(expected).length === Buffer.from(actual).length;
}

/** The Standard Webhooks minimum: a shorter HMAC key can be guessed, and an empty one lets anyone sign. */
export const MIN_SECRET_BYTES = 24;

/**
 * Why a Callback Signing Secret cannot be used, or undefined when it can: it must be `whsec_` followed
 * by standard base64 that decodes to at least 24 bytes. `whsec_` alone, or a placeholder typed as is
 * (`whsec_…`), decodes to an empty or one-byte key with which anyone can sign. The reason never quotes
 * the secret.
 */
export function signingSecretProblem(secret: string): string | undefined {
	if (!secret.startsWith('whsec_')) return 'the Callback Signing Secret must start with whsec_ (copy it whole from the Kling console)';
	const encoded = secret.slice('whsec_'.length);
	if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 === 1) {
		return 'the Callback Signing Secret must be whsec_ followed by base64 (copy it whole from the Kling console)';
	}
	const bytes = Buffer.from(encoded, 'base64').length;
	if (bytes < MIN_SECRET_BYTES) {
		return `the Callback Signing Secret decodes to a ${bytes}-byte key; it needs at least ${MIN_SECRET_BYTES} bytes (copy it whole from the Kling console)`;
	}
	return undefined;
}

/**
 * Verifies a callback signed the Standard Webhooks way, as Kling signs them:
 * 1. the secret is `whsec_<base64>`; the HMAC key is the base64-decoded part;
 * 2. the signed content is `{webhook-id}.{webhook-timestamp}.{raw body}`, the body byte for byte as received;
 * 3. `webhook-signature` holds one or more space-separated `v1,<base64 HMAC-SHA256>` (several during key rotation);
 *    any one matching is enough;
 * 4. `webhook-timestamp` (seconds) must be within 5 minutes of now, so captured deliveries cannot be replayed later.
 * With no secret configured, or a weak one (see signingSecretProblem), nothing can be verified, so the
 * callback is refused rather than trusted.
 * Never throws: any malformed input is a refusal with a reason.
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
export function verifyStandardWebhook(
	secret: string,
	headers: { id?: string; timestamp?: string; signature?: string },
	rawBody: Buffer,
	nowSeconds = Math.floor(Date.now() / 1000),
): Verdict {
	try {
		if (!secret) return { valid: false, reason: 'no callback signing secret is set in the Kling API credential' };
		// A weak key verifies forged signatures too: refuse to verify with it at all.
		const weakness = signingSecretProblem(secret);
		if (weakness) return { valid: false, reason: weakness };
		if (!headers.id || !headers.timestamp || !headers.signature) {
			return { valid: false, reason: 'the webhook-id, webhook-timestamp or webhook-signature header is missing' };
		}
		if (!/^\d+$/.test(headers.timestamp)) return { valid: false, reason: 'webhook-timestamp is not a number of seconds' };
		if (Math.abs(nowSeconds - Number(headers.timestamp)) > TIMESTAMP_TOLERANCE_SECONDS) {
			return { valid: false, reason: 'webhook-timestamp is more than 5 minutes away from now' };
		}
		const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
		const expected = createHmac('sha256', key)
			.update(Buffer.concat([Buffer.from(`${headers.id}.${headers.timestamp}.`), rawBody]))
			.digest('base64');
		const matches = headers.signature
			.split(' ')
			.map((entry) => entry.split(','))
			.some(([version, signature]) => version === 'v1' && signature !== undefined && safeEqual(expected, signature));
		return matches ? { valid: true } : { valid: false, reason: 'no signature in webhook-signature matches the body' };
	} catch {
		return { valid: false, reason: 'the signature headers could not be read' };
	}
}

/** Keys already seen, oldest first, bounded so a busy workflow's static data stays small. */
export function rememberDelivery(seen: string[], keys: string[], limit = 1000): { duplicate: boolean; seen: string[] } {
	const duplicate = keys.some((key) => seen.includes(key));
	if (duplicate) return { duplicate, seen };
	const next = [...seen, ...keys];
	return { duplicate, seen: next.slice(Math.max(0, next.length - limit)) };
}
