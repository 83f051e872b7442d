import type { IHttpRequestOptions } from 'n8n-workflow';

import { KlingApi } from '../../credentials/KlingApi.credentials';
import { signingSecretRefusal } from '../../nodes/KlingExpandTrigger/helpers/verifyCallback';
import { MIN_SECRET_BYTES } from '../../nodes/shared/signingSecret';
import { SIMULATOR_DEFAULT_KEYS } from '../simulator';

const credential = new KlingApi();
const base = { provider: 'kling', authMode: 'apiKey', apiKey: SIMULATOR_DEFAULT_KEYS.apiKey };
const secretOf = (bytes: number) => `whsec_${Buffer.alloc(bytes, 7).toString('base64')}`;

describe('Callback Signing Secret strength', () => {
	const weak = [
		'whsec_',
		'whsec_…',
		'whsec_AA==',
		secretOf(MIN_SECRET_BYTES - 1),
		'whsec_not base64!',
		'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
		`${secretOf(32)} `,
	];
	const strong = [
		secretOf(MIN_SECRET_BYTES),
		secretOf(64),
		SIMULATOR_DEFAULT_KEYS.webhookSecret,
		'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
	];

	it.each(weak)(
		'the credential refuses %j with a clear message that does not quote it',
		async (webhookSecret) => {
			const signing = credential.authenticate({ ...base, webhookSecret }, {
				url: '/x',
				headers: {},
			} as IHttpRequestOptions);
			await expect(signing).rejects.toMatchObject({
				name: 'KlingCredentialError',
				message: expect.stringMatching(
					/^Callback Signing Secret refused: it (must start with whsec_|decodes to a \d+-byte key, and at least 24 bytes are needed|must be whsec_ followed by base64)/,
				),
			});
			const message = await signing.catch((error: Error) => error.message);
			if (webhookSecret.length > 10) expect(message).not.toContain(webhookSecret.trim());
			expect(signingSecretRefusal(webhookSecret)).toEqual(expect.any(String));
		},
	);

	it.each(strong)('accepts %j', async (webhookSecret) => {
		const signed = await credential.authenticate({ ...base, webhookSecret }, {
			url: '/x',
			headers: {},
		} as IHttpRequestOptions);
		expect(signed.headers).toMatchObject({
			Authorization: `Bearer ${SIMULATOR_DEFAULT_KEYS.apiKey}`,
		});
		expect(signingSecretRefusal(webhookSecret)).toBeUndefined();
	});

	it('an empty field is fine for the credential (nothing is verified with it); the trigger refuses to verify without one', async () => {
		await expect(
			credential.authenticate({ ...base, webhookSecret: '' }, {
				url: '/x',
				headers: {},
			} as IHttpRequestOptions),
		).resolves.toBeDefined();
	});
});
