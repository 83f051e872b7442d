import { safeEqual } from '../../shared/safeEqual';
import type { Verdict } from './verifyCallback';
import { signingSecretRefusal, verifyStandardWebhook } from './verifyCallback';

/**
 * The checks a trigger version can be set to: Kling's signature, a token in the URL, or none at
 * all.
 */
export type VerificationChoice = 'signature' | 'token' | 'none';

/** What to check on each callback, resolved once from the node's settings. */
export type VerificationPlan =
	| { signature: boolean; token?: string; unverified: false }
	| { signature: false; unverified: true }
	/** No working check: every callback is refused, with this reason. */
	| { refusal: string };

/**
 * The trigger's settings that decide the plan; version 1 had a switch and an optional token,
 * version 2 a choice.
 */
export interface VerificationSettings {
	version: number;
	/** Version 2: the required choice. */
	verification?: string;
	/** Version 1: Verify Kling Signature. */
	verifySignature?: boolean;
	sharedToken?: string;
}

/**
 * What a callback presents: the Standard Webhooks headers, the raw body, and a token (query or
 * header).
 */
export interface PresentedCallback {
	headers: { id?: string; timestamp?: string; signature?: string };
	rawBody: Buffer;
	token?: string;
}

export const NO_CHECK_V1 =
	'Verify Kling Signature is off and no Shared Token is set, so nothing proves a callback comes ' +
	'from Kling. ' +
	'Set a Shared Token, turn Verify Kling Signature on, or add a new Kling Expand Trigger and ' +
	'choose Verification: None explicitly';

/**
 * Turns the trigger's settings into the checks to run. A trigger is open only when the user chose
 * Verification: None (version 2); a version-1 trigger with its signature check off and no token has
 * no check that anyone chose, so it refuses everything (it used to accept everything) instead of
 * staying open.
 */
export function verificationPlan(settings: VerificationSettings): VerificationPlan {
	const token = settings.sharedToken ?? '';
	if (settings.version < 2) {
		if (settings.verifySignature !== false)
			return { signature: true, token: token || undefined, unverified: false };
		return token ? { signature: false, token, unverified: false } : { refusal: NO_CHECK_V1 };
	}
	switch (settings.verification) {
		case 'signature':
			return { signature: true, unverified: false };
		case 'token':
			return token
				? { signature: false, token, unverified: false }
				: {
						refusal:
							'Verification is Shared Token, but the Shared Token is empty: set one and add ' +
							'?token=… to the callback URL',
					};
		case 'none':
			return { signature: false, unverified: true };
		default:
			return {
				refusal:
					`Verification is "${String(settings.verification)}"; choose Standard Webhooks ` +
					`Signature, Shared Token or None`,
			};
	}
}

/**
 * Why a trigger with this plan could accept no callback at all, worded for the editor with the fix,
 * or undefined when it can verify. `secret` is the credential's Callback Signing Secret, undefined
 * when no credential is selected; it matters only when the plan checks the signature.
 */
export function activationRefusal(
	plan: VerificationPlan,
	secret: string | undefined,
): string | undefined {
	if ('refusal' in plan) return plan.refusal;
	if (!plan.signature) return undefined;
	const instead = 'or choose Verification: Shared Token';
	if (secret === undefined)
		return (
			'Verification is Standard Webhooks Signature, but no Kling API credential is selected: ' +
			`select the credential that holds Kling's Callback Signing Secret, ${instead}`
		);
	if (secret === '')
		return (
			'Verification is Standard Webhooks Signature, but the Kling API credential has no Callback ' +
			"Signing Secret: paste the whsec_… secret from the Kling console into the credential's " +
			`Callback Signing Secret field, ${instead}`
		);
	const weakness = signingSecretRefusal(secret);
	return weakness ? `Verification is Standard Webhooks Signature, but ${weakness}` : undefined;
}

/**
 * Runs the plan's checks on one callback: the token first (it needs no secret), then the signature.
 * `secret` is the credential's Callback Signing Secret, needed only when the plan checks the
 * signature. Never throws.
 */
export function checkCallback(
	plan: VerificationPlan,
	callback: PresentedCallback,
	secret = '',
): Verdict {
	if ('refusal' in plan) return { valid: false, reason: plan.refusal };
	if (plan.unverified) return { valid: true };
	if (plan.token !== undefined && !safeEqual(plan.token, callback.token ?? ''))
		return { valid: false, reason: 'the shared token is missing or wrong' };
	if (plan.signature) {
		const verdict = verifyStandardWebhook(secret, callback.headers, callback.rawBody);
		if (!verdict.valid)
			return { valid: false, reason: `signature check failed: ${verdict.reason}` };
	}
	return { valid: true };
}
