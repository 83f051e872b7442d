import { createHmac } from 'node:crypto';

import fc from 'fast-check';

import {
	TIMESTAMP_TOLERANCE_SECONDS,
	verifyStandardWebhook,
} from '../../../../nodes/KlingExpandTrigger/helpers/verifyCallback';
import { signStandardWebhook } from '../../../simulator';

// The vector published in the API reference (Callbacks section).
const SECRET = 'whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=';
const ID = '9876543210';
const TIMESTAMP = 1781080794;
const BODY = Buffer.from(
	'{"task_id":"784512063975329862","task_status":"succeed","task_status_msg":"","task_info":{"external_task_id":"n8n-1"},' +
		'"created_at":1781080700000,"updated_at":1781080794000,"task_result":{"images":[{"index":0,"url":"https://cdn.example/0.png"}]}}',
);

/** The oracle: Standard Webhooks signing written out here, independently of the code under test. */
function sign(secret: string, id: string, timestamp: number | string, body: Buffer): string {
	const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
	return (
		'v1,' + createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64')
	);
}

const headersFor = (
	signature = sign(SECRET, ID, TIMESTAMP, BODY),
	timestamp: number | string = TIMESTAMP,
	id = ID,
) => ({ id, timestamp: String(timestamp), signature });
const verifyAt = (nowSeconds: number, headers = headersFor(), body = BODY, secret = SECRET) =>
	verifyStandardWebhook(secret, headers, body, nowSeconds);

describe('verifyStandardWebhook', () => {
	it('accepts the Standard Webhooks specification’s own published vector', () => {
		const body = Buffer.from('{"test": 2432232314}');
		const headers = {
			id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
			timestamp: '1614265330',
			signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
		};
		expect(
			sign('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', headers.id, headers.timestamp, body),
		).toBe(headers.signature);
		expect(
			verifyStandardWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', headers, body, 1614265330),
		).toEqual({ valid: true });
	});

	it('accepts the reference vector’s secret, id and timestamp signed by an independent HMAC', () => {
		expect(verifyAt(TIMESTAMP)).toEqual({ valid: true });
	});

	it('accepts what the simulator signs, which agrees with the independent HMAC', () => {
		const signature = signStandardWebhook(SECRET, ID, TIMESTAMP, BODY.toString('utf8'));
		expect(signature).toBe(sign(SECRET, ID, TIMESTAMP, BODY));
		expect(verifyAt(TIMESTAMP, headersFor(signature))).toEqual({ valid: true });
	});

	it('checks the raw bytes, so a body with spacing and non-ASCII text verifies as sent', () => {
		const body = Buffer.from('{ "task_id" : "t-é",\n  "task_status":"succeed" }');
		expect(verifyAt(TIMESTAMP, headersFor(sign(SECRET, ID, TIMESTAMP, body)), body)).toEqual({
			valid: true,
		});
		const reserialised = Buffer.from(JSON.stringify(JSON.parse(body.toString('utf8'))));
		expect(
			verifyAt(TIMESTAMP, headersFor(sign(SECRET, ID, TIMESTAMP, body)), reserialised).valid,
		).toBe(false);
	});

	it('accepts a multi-signature header (key rotation) where only the second signature matches', () => {
		const stale = sign(
			'whsec_' + Buffer.from('an-older-secret-an-older-secret!').toString('base64'),
			ID,
			TIMESTAMP,
			BODY,
		);
		expect(stale).not.toBe(sign(SECRET, ID, TIMESTAMP, BODY));
		expect(
			verifyAt(TIMESTAMP, headersFor(`${stale} ${sign(SECRET, ID, TIMESTAMP, BODY)}`)),
		).toEqual({ valid: true });
		expect(verifyAt(TIMESTAMP, headersFor(stale))).toEqual({
			valid: false,
			reason: 'no signature in webhook-signature matches the body',
		});
	});

	it('refuses a body with one byte flipped', () => {
		for (const position of [0, 40, BODY.length - 1]) {
			const flipped = Buffer.from(BODY);
			flipped[position] ^= 0x01;
			expect(verifyAt(TIMESTAMP, headersFor(), flipped)).toEqual({
				valid: false,
				reason: 'no signature in webhook-signature matches the body',
			});
		}
	});

	it('refuses a signature made with another secret', () => {
		const other = 'whsec_' + Buffer.from('testsecrettestsecrettestsecret13').toString('base64');
		expect(verifyAt(TIMESTAMP, headersFor(sign(other, ID, TIMESTAMP, BODY)))).toEqual({
			valid: false,
			reason: 'no signature in webhook-signature matches the body',
		});
		expect(verifyAt(TIMESTAMP, headersFor(), BODY, other).valid).toBe(false);
	});

	it('refuses a signature whose id or timestamp was swapped for another', () => {
		expect(verifyAt(TIMESTAMP, headersFor(undefined, TIMESTAMP, '9876543211')).valid).toBe(false);
		expect(verifyAt(TIMESTAMP, headersFor(undefined, TIMESTAMP + 1)).valid).toBe(false);
	});

	it.each(['id', 'timestamp', 'signature'] as const)(
		'refuses a callback without the webhook-%s header',
		(missing) => {
			for (const absent of [undefined, '']) {
				const headers = { ...headersFor(), [missing]: absent };
				expect(verifyAt(TIMESTAMP, headers)).toEqual({
					valid: false,
					reason: 'the webhook-id, webhook-timestamp or webhook-signature header is missing',
				});
			}
		},
	);

	it('refuses a timestamp 301 s in the past or in the future', () => {
		const tooFar = {
			valid: false,
			reason: 'webhook-timestamp is more than 5 minutes away from now',
		};
		expect(verifyAt(TIMESTAMP + 301)).toEqual(tooFar);
		expect(verifyAt(TIMESTAMP - 301)).toEqual(tooFar);
	});

	it('accepts a timestamp 299 s (and exactly 300 s) away, either way', () => {
		expect(TIMESTAMP_TOLERANCE_SECONDS).toBe(300);
		for (const offset of [299, -299, 300, -300])
			expect(verifyAt(TIMESTAMP + offset)).toEqual({ valid: true });
	});

	it('refuses a timestamp that is not whole seconds (milliseconds, decimals, signs, words)', () => {
		for (const timestamp of [
			`${TIMESTAMP}000`,
			`${TIMESTAMP}.0`,
			`+${TIMESTAMP}`,
			`-${TIMESTAMP}`,
			' 1781080794',
			'now',
			'1e9',
		]) {
			const headers = headersFor(sign(SECRET, ID, timestamp, BODY), timestamp);
			expect(verifyAt(TIMESTAMP, headers).valid).toBe(false);
		}
	});

	it('refuses a correct HMAC under any version label but v1', () => {
		const digest = sign(SECRET, ID, TIMESTAMP, BODY).slice('v1,'.length);
		for (const signature of [
			`v2,${digest}`,
			`V1,${digest}`,
			`v1a,${digest}`,
			`,${digest}`,
			digest,
			`v1 ${digest}`,
		]) {
			expect(verifyAt(TIMESTAMP, headersFor(signature)).valid).toBe(false);
		}
	});

	it('refuses garbage signatures', () => {
		const digest = sign(SECRET, ID, TIMESTAMP, BODY).slice('v1,'.length);
		const garbage = [
			'v1,',
			'v1',
			'v1,!!!!',
			'v1,' + digest.slice(0, -4),
			'v1,' + digest + 'AAAA',
			'v1,' + Buffer.from(digest, 'base64').toString('hex'),
			' ',
			',,,',
			'v1,' + 'A'.repeat(10_000),
		];
		for (const signature of garbage)
			expect(verifyAt(TIMESTAMP, headersFor(signature)).valid).toBe(false);
	});

	it('refuses everything when no secret is configured, rather than trusting unsigned callbacks', () => {
		expect(verifyAt(TIMESTAMP, headersFor(), BODY, '')).toEqual({
			valid: false,
			reason: 'no callback signing secret is set in the Kling API credential',
		});
		// Not even a signature made with an empty key gets through.
		const emptyKey =
			'v1,' +
			createHmac('sha256', Buffer.alloc(0))
				.update(`${ID}.${TIMESTAMP}.`)
				.update(BODY)
				.digest('base64');
		expect(verifyAt(TIMESTAMP, headersFor(emptyKey), BODY, '').valid).toBe(false);
	});

	it('never throws, whatever it is given', () => {
		const anything = fc.anything();
		fc.assert(
			fc.property(
				anything,
				anything,
				anything,
				anything,
				anything,
				fc.integer(),
				(secret, id, timestamp, signature, body, now) => {
					const verdict = verifyStandardWebhook(
						secret as string,
						{ id, timestamp, signature } as never,
						body as Buffer,
						now,
					);
					expect(verdict.valid).toBe(false);
					if (!verdict.valid) expect(typeof verdict.reason).toBe('string');
				},
			),
			{ numRuns: 500 },
		);
		expect(verifyStandardWebhook(SECRET, null as never, BODY, TIMESTAMP).valid).toBe(false);
		expect(verifyStandardWebhook(SECRET, headersFor(), undefined as never, TIMESTAMP).valid).toBe(
			false,
		);
		expect(verifyStandardWebhook(42 as never, headersFor(), BODY, TIMESTAMP).valid).toBe(false);
	});
});
