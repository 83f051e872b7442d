/** Where requests go, from the credential's fields alone. */
export interface EndpointCredentials {
	provider?: string;
	region?: string;
	baseUrl?: string;
}

export const KLING_HOSTS: Record<string, string> = {
	singapore: 'https://api-singapore.klingai.com',
	beijing: 'https://api-beijing.klingai.com',
	legacy: 'https://api.klingai.com',
};
export const COMETAPI_HOST = 'https://api.cometapi.com';

/**
 * The host: the override when set (proxies, gateways, the local simulator), else the provider's.
 */
export function apiHost(credentials: EndpointCredentials): string {
	const override = (credentials.baseUrl ?? '').trim().replace(/\/+$/, '');
	if (override) return override;
	if (credentials.provider === 'cometapi') return COMETAPI_HOST;
	return KLING_HOSTS[credentials.region ?? 'singapore'] ?? KLING_HOSTS.singapore;
}

/** CometAPI serves Kling's routes under `/kling`. */
export function expandEndpoint(credentials: EndpointCredentials): string {
	const prefix = credentials.provider === 'cometapi' ? '/kling' : '';
	return `${apiHost(credentials)}${prefix}/v1/images/editing/expand`;
}
