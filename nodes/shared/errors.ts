/**
 * Kling's service codes: what each means, whether a retry can help, and what the user should do.
 * HTTP 429 alone does not mean "retry": 1100–1102 and 1304 also come as 429 and never heal by
 * waiting.
 * @see https://app.klingai.com/global/dev/document-api/apiReference/errorCode
 */
export interface KlingCodeInfo {
	meaning: string;
	retry: 'backoff' | 'resign' | 'never';
	remedy: string;
}

const CODES: Record<number, KlingCodeInfo> = {
	1000: {
		meaning: 'Authentication failed',
		retry: 'never',
		remedy: 'Check the Kling API credential.',
	},
	1001: {
		meaning: 'Authorization is empty',
		retry: 'never',
		remedy: 'Check the Kling API credential.',
	},
	1002: {
		meaning: 'Authorization is invalid',
		retry: 'never',
		remedy: 'Check the API key, or the access key and secret key, in the credential.',
	},
	1003: {
		meaning: 'Token is not yet valid',
		retry: 'resign',
		remedy: "Check this machine's clock.",
	},
	1004: { meaning: 'Token has expired', retry: 'resign', remedy: "Check this machine's clock." },
	1100: {
		meaning: 'Account is abnormal',
		retry: 'never',
		remedy: 'Check the account in the Kling console.',
	},
	1101: {
		meaning: 'Account is in arrears',
		retry: 'never',
		remedy: 'Top up the account in the Kling console.',
	},
	1102: {
		meaning: 'Resource pack is used up or expired',
		retry: 'never',
		remedy: 'Buy or renew a resource pack in the Kling console.',
	},
	1103: {
		meaning: 'No access to this API or model',
		retry: 'never',
		remedy: 'Check the permissions of the account.',
	},
	1200: { meaning: 'Invalid request', retry: 'never', remedy: 'Check the request parameters.' },
	1201: {
		meaning: 'Invalid parameters',
		retry: 'never',
		remedy: 'Check the parameter named in the message.',
	},
	1202: { meaning: 'Wrong request method', retry: 'never', remedy: 'Check the base URL override.' },
	1203: {
		meaning: 'Resource does not exist',
		retry: 'never',
		remedy: 'Check the task ID, or the base URL override.',
	},
	1300: {
		meaning: 'Refused by platform policy',
		retry: 'never',
		remedy: 'Change the image or prompt.',
	},
	1301: {
		meaning: 'Refused by content safety',
		retry: 'never',
		remedy: 'Change the image or prompt.',
	},
	1302: {
		meaning: 'Rate limit reached',
		retry: 'backoff',
		remedy: 'Lower the concurrency or spread the requests out.',
	},
	1303: {
		meaning: 'Concurrency over the resource-pack limit',
		retry: 'backoff',
		remedy: 'Lower the concurrency option to the number of slots in the resource pack.',
	},
	1304: {
		meaning: 'Refused by the IP whitelist policy',
		retry: 'never',
		remedy: "Add this machine's IP address to the whitelist in the Kling console.",
	},
	5000: { meaning: 'Internal server error', retry: 'backoff', remedy: 'Try again later.' },
	5001: {
		meaning: 'Service temporarily unavailable (maintenance)',
		retry: 'backoff',
		remedy: 'Try again later.',
	},
	5002: { meaning: 'Server timeout', retry: 'backoff', remedy: 'Try again later.' },
};

/** What a service code means; unknown codes are treated as final so nothing is retried blindly. */
export function describeKlingCode(code: number): KlingCodeInfo {
	return (
		CODES[code] ?? {
			meaning: `Unknown error code ${code}`,
			retry: 'never',
			remedy: 'See the message for details.',
		}
	);
}

/** Kling sends `code` as a number; CometAPI sometimes as a string. */
export function parseKlingCode(code: unknown): number | undefined {
	if (typeof code === 'number' && Number.isFinite(code)) return code;
	if (typeof code === 'string' && /^\d+$/.test(code.trim())) return Number(code);
	return undefined;
}

const SECRET_PATTERNS: Array<[RegExp, string]> = [
	[/\bBearer(\s+|%20)[A-Za-z0-9._~+/=-]{12,}/gi, 'Bearer [redacted]'],
	[/\beyJ[\w-]{6,}\.[\w-]{6,}\.[\w-]*/g, '[redacted token]'],
	[/\bwhsec_[A-Za-z0-9+/=]+/g, 'whsec_[redacted]'],
	[/\bsk-[A-Za-z0-9]{20,}/g, 'sk-[redacted]'],
];

/**
 * Text from a provider or a network error, safe to show: the credential's own secret values (when
 * given) and anything shaped like a bearer token, a signed JWT, a webhook secret or an sk- key are
 * replaced. Our own messages never hold one; this guards against a gateway that quotes the request
 * back.
 */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
	const withoutKnown = secrets
		.filter((secret) => secret.length >= 6)
		.reduce((redacted, secret) => redacted.split(secret).join('[redacted]'), text);
	const withoutUrls = withoutKnown.replace(URL_IN_TEXT, (url) => redactUrl(url));
	return SECRET_PATTERNS.reduce(
		(redacted, [pattern, replacement]) => redacted.replace(pattern, replacement),
		withoutUrls,
	);
}

/**
 * An http(s) URL inside a message, up to whitespace, a quote or a closing bracket, without trailing
 * punctuation.
 */
const URL_IN_TEXT = /\bhttps?:\/\/[^\s"'<>`)\]]*[^\s"'<>`)\],.;:!?]/gi;

/**
 * A URL as it may be shown: origin and path only. `user:pass@` and the query string (signed CDN
 * links carry their signature there) are credentials of a kind; the fragment is dropped with them.
 * Text that does not parse as a URL loses everything from the first `?` or `#`, and any `…@`
 * prefix.
 */
export function redactUrl(url: string): string {
	try {
		const parsed = new URL(url);
		if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return parsed.protocol;
		const hidden = parsed.username || parsed.password || parsed.search || parsed.hash;
		// `https://host` parses with the path '/': keep the text as it was written.
		const path =
			parsed.pathname === '/' && !/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*\//i.test(url)
				? ''
				: parsed.pathname;
		return hidden ? `${parsed.origin}${path}` : url;
	} catch {
		return url.replace(/[?#].*$/s, '').replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/]*@/i, '$1');
	}
}
