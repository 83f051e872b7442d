import {
	hostAllowed,
	originsNotAllowed,
	parseHostList,
	PROVIDER_RESULT_HOSTS,
} from '../../../../nodes/KlingExpandTrigger/helpers/downloadHosts';

describe('parseHostList', () => {
	it('splits on commas, spaces and newlines and lower-cases', () => {
		expect(parseHostList(' *.KlingAI.com,cdn.example.com\n127.0.0.1:8080  ,, ')).toEqual([
			'*.klingai.com',
			'cdn.example.com',
			'127.0.0.1:8080',
		]);
		expect(parseHostList('')).toEqual([]);
	});
});

describe('hostAllowed', () => {
	it.each<[string, string[], boolean]>([
		['https://p1-kling.klingai.com/kcdn/dog.png', PROVIDER_RESULT_HOSTS, true],
		['https://a.b.klingai.com/x.png', PROVIDER_RESULT_HOSTS, true],
		['https://klingai.com/x.png', PROVIDER_RESULT_HOSTS, false],
		['https://evilklingai.com/x.png', PROVIDER_RESULT_HOSTS, false],
		['https://p1-kling.klingai.com.evil.example/x.png', PROVIDER_RESULT_HOSTS, false],
		['https://user@169.254.169.254/latest/meta-data', PROVIDER_RESULT_HOSTS, false],
		['http://127.0.0.1:5678/rest/settings', PROVIDER_RESULT_HOSTS, false],
		['http://127.0.0.1:5678/x.png', ['127.0.0.1'], true],
		['http://127.0.0.1:5678/x.png', ['127.0.0.1:5678'], true],
		['http://127.0.0.1:5679/x.png', ['127.0.0.1:5678'], false],
		['https://cdn.example.com/x.png', ['cdn.example.com:443'], true],
		['http://[::1]:80/x.png', ['[::1]'], true],
		['file:///etc/passwd', ['*.klingai.com', ''], false],
		['not a url', ['*'], false],
		['https://cdn.example.com/x.png', [], false],
	])('%s on %j: %s', (url, list, allowed) => {
		expect(hostAllowed(url, list)).toBe(allowed);
	});
});

describe('originsNotAllowed', () => {
	it('names each refused origin once', () => {
		expect(
			originsNotAllowed(
				['http://10.0.0.1/a', 'http://10.0.0.1/b', 'https://x.klingai.com/c', 'nope'],
				PROVIDER_RESULT_HOSTS,
			),
		).toEqual(['http://10.0.0.1', 'an invalid URL']);
	});
});
