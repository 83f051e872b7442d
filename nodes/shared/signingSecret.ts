/**
 * The Standard Webhooks minimum: a shorter HMAC key can be guessed, and an empty one lets anyone
 * sign.
 */
export const MIN_SECRET_BYTES = 24;

/**
 * What is wrong with a Callback Signing Secret; the credential and the trigger each word it for
 * where it is shown.
 */
export type SigningSecretProblem =
	| { kind: 'prefix' }
	| { kind: 'encoding' }
	| { kind: 'short'; bytes: number };

/**
 * Why a Callback Signing Secret cannot be used, or undefined when it can: it must be `whsec_`
 * followed by standard base64 that decodes to at least 24 bytes. `whsec_` alone, or a placeholder
 * typed as is (`whsec_…`), decodes to an empty or one-byte key with which anyone can sign.
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
export function signingSecretProblem(secret: string): SigningSecretProblem | undefined {
	if (!secret.startsWith('whsec_')) return { kind: 'prefix' };
	const encoded = secret.slice('whsec_'.length);
	if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 === 1)
		return { kind: 'encoding' };
	const bytes = Buffer.from(encoded, 'base64').length;
	return bytes < MIN_SECRET_BYTES ? { kind: 'short', bytes } : undefined;
}
