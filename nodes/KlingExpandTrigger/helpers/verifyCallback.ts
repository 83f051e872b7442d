import { createHmac } from 'node:crypto';

import { safeEqual } from '../../shared/safeEqual';
import { MIN_SECRET_BYTES, signingSecretProblem } from '../../shared/signingSecret';

export type Verdict = { valid: true } | { valid: false; reason: string };

/** Kling's callback signatures may be at most this far from our clock, either way. */
export const TIMESTAMP_TOLERANCE_SECONDS = 300;

/**
 * Why the trigger cannot verify with this Callback Signing Secret (the rule is
 * signingSecretProblem's), or undefined. The reason never quotes the secret.
 */
export function signingSecretRefusal(secret: string): string | undefined {
	const problem = signingSecretProblem(secret);
	if (!problem) return undefined;
	const rule =
		problem.kind === 'prefix'
			? 'must start with whsec_'
			: problem.kind === 'encoding'
				? 'must be whsec_ followed by base64'
				: `decodes to a ${problem.bytes}-byte key; it needs at least ${MIN_SECRET_BYTES} bytes`;
	return `the Callback Signing Secret ${rule} (copy it whole from the Kling console)`;
}

/**
 * Verifies a callback signed the Standard Webhooks way, as Kling signs them:
 * 1. the secret is `whsec_<base64>`; the HMAC key is the base64-decoded part;
 * 2. the signed content is `{webhook-id}.{webhook-timestamp}.{raw body}`, the body byte for byte as
 *    received;
 * 3. `webhook-signature` holds one or more space-separated `v1,<base64 HMAC-SHA256>` (several
 *    during key rotation); any one matching is enough;
 * 4. `webhook-timestamp` (seconds) must be within 5 minutes of now, so captured deliveries cannot
 *    be replayed later.
 * With no secret configured, or a weak one (see signingSecretRefusal), nothing can be verified, so
 * the callback is refused rather than trusted. Never throws: any malformed input is a refusal with
 * a reason.
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
export function verifyStandardWebhook(
	secret: string,
	headers: { id?: string; timestamp?: string; signature?: string },
	rawBody: Buffer,
	nowSeconds = Math.floor(Date.now() / 1000),
): Verdict {
	try {
		if (!secret)
			return {
				valid: false,
				reason: 'no callback signing secret is set in the Kling API credential',
			};
		// A weak key verifies forged signatures too: refuse to verify with it at all.
		const weakness = signingSecretRefusal(secret);
		if (weakness) return { valid: false, reason: weakness };
		if (!headers.id || !headers.timestamp || !headers.signature) {
			return {
				valid: false,
				reason: 'the webhook-id, webhook-timestamp or webhook-signature header is missing',
			};
		}
		if (!/^\d+$/.test(headers.timestamp))
			return { valid: false, reason: 'webhook-timestamp is not a number of seconds' };
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
			.some(
				([version, signature]) =>
					version === 'v1' && signature !== undefined && safeEqual(expected, signature),
			);
		return matches
			? { valid: true }
			: { valid: false, reason: 'no signature in webhook-signature matches the body' };
	} catch {
		return { valid: false, reason: 'the signature headers could not be read' };
	}
}
