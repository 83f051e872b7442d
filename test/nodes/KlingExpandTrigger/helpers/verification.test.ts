import {
	activationRefusal,
	checkCallback,
	NO_CHECK_V1,
	verificationPlan,
} from '../../../../nodes/KlingExpandTrigger/helpers/verification';
import { signStandardWebhook } from '../../../simulator';

const SECRET = 'whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=';
const body = Buffer.from('{"task_id":"t","task_status":"succeed"}');
const now = () => String(Math.floor(Date.now() / 1000));
const signed = (timestamp = now()) => ({
	id: 'msg_1',
	timestamp,
	signature: signStandardWebhook(SECRET, 'msg_1', timestamp, body.toString('utf8')),
});

describe('verificationPlan', () => {
	it.each<[string, Parameters<typeof verificationPlan>[0], ReturnType<typeof verificationPlan>]>([
		[
			'v2 signature',
			{ version: 2, verification: 'signature', sharedToken: 'ignored' },
			{ signature: true, unverified: false },
		],
		[
			'v2 token',
			{ version: 2, verification: 'token', sharedToken: 'tok' },
			{ signature: false, token: 'tok', unverified: false },
		],
		['v2 none', { version: 2, verification: 'none' }, { signature: false, unverified: true }],
		[
			'v1 default (signature on)',
			{ version: 1 },
			{ signature: true, token: undefined, unverified: false },
		],
		[
			'v1 signature and token',
			{ version: 1, verifySignature: true, sharedToken: 'tok' },
			{ signature: true, token: 'tok', unverified: false },
		],
		[
			'v1 token only',
			{ version: 1, verifySignature: false, sharedToken: 'tok' },
			{ signature: false, token: 'tok', unverified: false },
		],
		[
			'v1 neither',
			{ version: 1, verifySignature: false, sharedToken: '' },
			{ refusal: NO_CHECK_V1 },
		],
	])('%s', (_case, settings, plan) => {
		expect(verificationPlan(settings)).toEqual(plan);
	});

	it('never opens a trigger without the explicit None: an empty token or an unknown choice is a refusal', () => {
		expect(verificationPlan({ version: 2, verification: 'token', sharedToken: '' })).toHaveProperty(
			'refusal',
		);
		for (const verification of [undefined, '', 'off', 'None', 'false'])
			expect(verificationPlan({ version: 2, verification })).toHaveProperty('refusal');
	});
});

describe('checkCallback', () => {
	it('accepts a valid signature, and refuses one without a secret or with the wrong body', () => {
		const plan = verificationPlan({ version: 2, verification: 'signature' });
		expect(checkCallback(plan, { headers: signed(), rawBody: body }, SECRET)).toEqual({
			valid: true,
		});
		expect(checkCallback(plan, { headers: signed(), rawBody: body }, '')).toEqual({
			valid: false,
			reason:
				'signature check failed: no callback signing secret is set in the Kling API credential',
		});
		expect(
			checkCallback(plan, { headers: signed(), rawBody: Buffer.from('{}') }, SECRET),
		).toMatchObject({ valid: false });
	});

	it('compares the token exactly, before the signature', () => {
		const plan = verificationPlan({ version: 1, sharedToken: 'tok' });
		expect(checkCallback(plan, { headers: signed(), rawBody: body, token: 'tok' }, SECRET)).toEqual(
			{ valid: true },
		);
		for (const token of [undefined, '', 'to', 'tok ', 'TOK']) {
			expect(checkCallback(plan, { headers: signed(), rawBody: body, token }, SECRET)).toEqual({
				valid: false,
				reason: 'the shared token is missing or wrong',
			});
		}
	});

	it('accepts anything under None, and nothing under a refusal', () => {
		expect(
			checkCallback(verificationPlan({ version: 2, verification: 'none' }), {
				headers: {},
				rawBody: Buffer.from('x'),
			}),
		).toEqual({ valid: true });
		expect(
			checkCallback({ refusal: 'why' }, { headers: signed(), rawBody: body, token: 'tok' }, SECRET),
		).toEqual({ valid: false, reason: 'why' });
	});
});

describe('activationRefusal', () => {
	const signature = verificationPlan({ version: 2, verification: 'signature' });

	it('refuses a signature check without a credential, naming the credential to select', () => {
		expect(activationRefusal(signature, undefined)).toMatch(
			/^Verification is Standard Webhooks Signature, but no Kling API credential is selected: select the credential .* or choose Verification: Shared Token$/,
		);
	});

	it('refuses a signature check whose credential has no secret, naming the Callback Signing Secret field', () => {
		expect(activationRefusal(signature, '')).toMatch(
			/the Kling API credential has no Callback Signing Secret: paste the whsec_… secret from the Kling console into the credential's Callback Signing Secret field/,
		);
	});

	it('refuses a weak secret with its rule, never quoting it', () => {
		const refusal = activationRefusal(signature, 'whsec_c2hvcnQ=');
		expect(refusal).toBe(
			'Verification is Standard Webhooks Signature, but the Callback Signing Secret decodes to a 5-byte key; it needs at least 24 bytes (copy it whole from the Kling console)',
		);
	});

	it('passes a usable secret, a token, None, and ignores the credential when no signature is checked', () => {
		expect(activationRefusal(signature, SECRET)).toBeUndefined();
		expect(
			activationRefusal(
				verificationPlan({ version: 2, verification: 'token', sharedToken: 't' }),
				'',
			),
		).toBeUndefined();
		expect(
			activationRefusal(verificationPlan({ version: 2, verification: 'none' }), undefined),
		).toBeUndefined();
	});

	it('refuses what the plan refuses: an empty Shared Token, a version-1 trigger with no check', () => {
		expect(
			activationRefusal(
				verificationPlan({ version: 2, verification: 'token', sharedToken: '' }),
				SECRET,
			),
		).toMatch(/^Verification is Shared Token, but the Shared Token is empty/);
		expect(
			activationRefusal(verificationPlan({ version: 1, verifySignature: false }), SECRET),
		).toBe(NO_CHECK_V1);
	});
});
