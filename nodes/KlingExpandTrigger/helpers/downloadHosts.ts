/**
 * Hosts Kling serves result images from: subdomains of klingai.com (the API reference's example
 * image is on p1-kling.klingai.com). Downloads for unverified callbacks are limited to these unless
 * the user adds more.
 */
export const PROVIDER_RESULT_HOSTS = ['*.klingai.com'];

/** Splits a comma-, space- or newline-separated host list into lower-case entries. */
export function parseHostList(text: string): string[] {
	return text
		.split(/[\s,]+/)
		.map((entry) => entry.trim().toLowerCase())
		.filter((entry) => entry.length > 0);
}

/**
 * Whether a URL's host is on the list. An entry is a host name or IP (`cdn.example.com`,
 * `127.0.0.1`), `*.example.com` for any subdomain of example.com (not example.com itself), or
 * either with `:port` to allow one port only. Only http(s) URLs qualify.
 */
export function hostAllowed(url: string, allowed: readonly string[]): boolean {
	let parsed: URL;
	try {
		parsed = new URL(url);
	} catch {
		return false;
	}
	if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return false;
	const host = parsed.hostname.toLowerCase();
	return allowed.some((entry) => {
		const portAt = entry.lastIndexOf(':');
		const hasPort = portAt > entry.lastIndexOf(']') && /^\d+$/.test(entry.slice(portAt + 1));
		const pattern = hasPort ? entry.slice(0, portAt) : entry;
		if (
			hasPort &&
			entry.slice(portAt + 1) !== (parsed.port || (parsed.protocol === 'https:' ? '443' : '80'))
		)
			return false;
		return pattern.startsWith('*.')
			? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1
			: host === pattern;
	});
}

/**
 * The origins among `urls` whose host is not on the list, each once, for the message that names
 * them.
 */
export function originsNotAllowed(urls: readonly string[], allowed: readonly string[]): string[] {
	const origin = (url: string) => {
		try {
			return new URL(url).origin;
		} catch {
			return 'an invalid URL';
		}
	};
	return [...new Set(urls.filter((url) => !hostAllowed(url, allowed)).map(origin))];
}
