import { fetchBytes } from '../../../../nodes/shared/transport/download';
import { DEFAULT_POLICY } from '../../../../nodes/shared/transport/retry';
import { ValidationError } from '../../../../nodes/shared/validationError';
import { fakeContext } from '../../../harness/context';

describe('fetchBytes', () => {
	it.each([
		'file:///etc/passwd',
		'ftp://example.com/a.png',
		'data:image/png;base64,AAAA',
		'javascript:alert(1)',
		'/relative.png',
	])('refuses %s before any request: only http(s) leaves the node', async (url) => {
		const httpRequest = jest.fn();
		const ctx = fakeContext({ helpers: { httpRequest } });
		await expect(
			fetchBytes(ctx, url, {
				maxBytes: 1000,
				atLimit: 'fail',
				field: 'imageUrl',
				policy: DEFAULT_POLICY,
			}),
		).rejects.toBeInstanceOf(ValidationError);
		expect(httpRequest).not.toHaveBeenCalled();
	});
});
