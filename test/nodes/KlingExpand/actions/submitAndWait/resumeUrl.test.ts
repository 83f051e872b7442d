import {
	claimedBatch,
	nodeResumeUrl,
	resumeKey,
	signBatch,
	signedResumeUrl,
	verifyBatch,
} from '../../../../../nodes/KlingExpand/actions/submitAndWait/resumeUrl';
import { safeEqual } from '../../../../../nodes/shared/safeEqual';

const identity = { executionId: '42', batchId: '0a1b2c3d0', itemCount: 3 };

describe('resume URL signature', () => {
	it('is derived from the credential secret, and differs from one credential to another', () => {
		const key = resumeKey({ accessKey: 'ak', secretKey: 'sk-one' })!;
		const other = resumeKey({ accessKey: 'ak', secretKey: 'sk-two' })!;
		expect(key.equals(resumeKey({ accessKey: 'ak', secretKey: 'sk-one' })!)).toBe(true);
		expect(signBatch(key, identity)).not.toBe(signBatch(other, identity));
		// Not the secret itself: a leaked resume URL signature says nothing about the key it came from.
		expect(key.toString('utf8')).not.toContain('sk-one');
		expect(resumeKey({ provider: 'kling' })).toBeUndefined();
	});

	it('verifies the identity it signed and nothing else', () => {
		const key = resumeKey({ apiKey: 'api-key' })!;
		const signature = signBatch(key, identity);
		expect(verifyBatch(key, identity, signature)).toBe(true);
		for (const changed of [
			{ ...identity, itemCount: 1 },
			{ ...identity, itemCount: 10_000 },
			{ ...identity, executionId: '43' },
			{ ...identity, batchId: '0a1b2c3d1' },
			{ ...identity, origin: '41' },
		]) {
			expect(verifyBatch(key, changed, signature)).toBe(false);
		}
		expect(verifyBatch(key, identity, signature.slice(1))).toBe(false);
		expect(verifyBatch(key, identity, '')).toBe(false);
	});

	it("covers the execution a Retry's ids name, carried as kling_origin", () => {
		const key = resumeKey({ apiKey: 'api-key' })!;
		const retried = { ...identity, origin: '41' };
		const url = new URL(signedResumeUrl('http://h/webhook-waiting/42/n', key, retried));
		const claimed = claimedBatch(Object.fromEntries(url.searchParams))!;
		expect(claimed.origin).toBe('41');
		expect(verifyBatch(key, { ...identity, origin: claimed.origin }, claimed.signature)).toBe(true);
		expect(verifyBatch(key, identity, claimed.signature)).toBe(false);
		expect(verifyBatch(key, { ...identity, origin: '40' }, claimed.signature)).toBe(false);
	});

	it('compares in constant time without a length shortcut', () => {
		expect(safeEqual('abc', 'abc')).toBe(true);
		expect(safeEqual('abc', 'abd')).toBe(false);
		expect(safeEqual('abc', 'abcd')).toBe(false);
	});
});

describe('nodeResumeUrl', () => {
	it("ends the execution's resume URL in the node's id, keeping n8n's resume token", () => {
		const url = new URL(
			nodeResumeUrl('https://n8n.example/webhook-waiting/42?signature=tok', 'a1b2-c3'),
		);
		expect(url.pathname).toBe('/webhook-waiting/42/a1b2-c3');
		expect(url.searchParams.get('signature')).toBe('tok');
	});

	it('escapes a node id that is not URL-safe, so it stays one path segment', () => {
		expect(new URL(nodeResumeUrl('http://h/webhook-waiting/42/', 'a/b c')).pathname).toBe(
			'/webhook-waiting/42/a%2Fb%20c',
		);
	});
});
