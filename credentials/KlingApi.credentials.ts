import type {
	ICredentialDataDecryptedObject,
	ICredentialTestRequest,
	ICredentialType,
	IHttpRequestOptions,
	INodeProperties,
} from 'n8n-workflow';

import { COMETAPI_HOST, KLING_HOSTS } from '../nodes/shared/endpoint';
import { signKlingJwt } from '../nodes/shared/jwt';
import { MIN_SECRET_BYTES, signingSecretProblem } from '../nodes/shared/signingSecret';

/**
 * What the credential test says instead of n8n's bare status text ("Unauthorized"): which field to
 * check. n8n matches these on the HTTP status alone (Kling answers 1000–1004 with 401), so each
 * message names the fields of both providers.
 */
const CREDENTIAL_TEST_FAILURES: Array<[number, string]> = [
	[
		401,
		'The key was refused (HTTP 401). Kling (Direct): check the Access Key and Secret Key (or the ' +
			'API Key, with Authentication: API Key) and that the Region is the one the keys were made ' +
			"in; if they are right, check this machine's clock (tokens are signed with it). CometAPI: " +
			'check the CometAPI Key, and that Provider is CometAPI.',
	],
	[
		403,
		'The key has no access to the image expansion API (HTTP 403): check the permissions of the ' +
			'account in the Kling console, or the Provider.',
	],
	[
		404,
		'Nothing answered at this address (HTTP 404): check the Region, and the Base URL Override ' +
			"(the host only, e.g. https://api-singapore.klingai.com, or empty for the provider's own).",
	],
	[
		429,
		'The key works but the account cannot be used (HTTP 429: arrears, used-up resource pack, IP ' +
			'whitelist or rate limit): check the account in the Kling or CometAPI console.',
	],
];

export class KlingApi implements ICredentialType {
	name = 'klingApi';

	displayName = 'Kling API';

	icon = { light: 'file:../icons/kling.svg', dark: 'file:../icons/kling.dark.svg' } as const;

	/**
	 * The README's Credentials section as npm shows it: that page exists wherever the package can be
	 * installed from.
	 */
	documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-kling-expand#credentials';

	properties: INodeProperties[] = [
		{
			displayName: 'Provider',
			name: 'provider',
			type: 'options',
			options: [
				{
					name: 'Kling (Direct)',
					value: 'kling',
					description: "Kling's own API, with keys from the Kling developer console",
				},
				{
					name: 'CometAPI',
					value: 'cometapi',
					description: 'The CometAPI gateway, with a CometAPI key',
				},
			],
			default: 'kling',
		},
		{
			displayName: 'Authentication',
			name: 'authMode',
			type: 'options',
			displayOptions: { show: { provider: ['kling'] } },
			options: [
				{
					name: 'Access Key + Secret Key',
					value: 'accessKey',
					description: 'A token is signed from the pair for every request',
				},
				{ name: 'API Key', value: 'apiKey', description: 'A single key, sent as a Bearer token' },
			],
			default: 'accessKey',
		},
		{
			// Not masked: the access key only names the key pair (it is the token's readable `iss`
			// claim); the secret key signs.
			displayName: 'Access Key',
			name: 'accessKey',
			type: 'string',
			description:
				'Names the key pair and is readable in every signed token; the Secret Key below is the ' +
				'secret',
			displayOptions: { show: { provider: ['kling'], authMode: ['accessKey'] } },
			default: '',
			required: true,
		},
		{
			displayName: 'Secret Key',
			name: 'secretKey',
			type: 'string',
			typeOptions: { password: true },
			displayOptions: { show: { provider: ['kling'], authMode: ['accessKey'] } },
			default: '',
			required: true,
		},
		{
			displayName: 'API Key',
			name: 'apiKey',
			type: 'string',
			typeOptions: { password: true },
			displayOptions: { show: { provider: ['kling'], authMode: ['apiKey'] } },
			default: '',
			required: true,
		},
		{
			displayName: 'CometAPI Key',
			name: 'cometApiKey',
			type: 'string',
			typeOptions: { password: true },
			displayOptions: { show: { provider: ['cometapi'] } },
			default: '',
			required: true,
		},
		{
			displayName: 'Region',
			name: 'region',
			type: 'options',
			displayOptions: { show: { provider: ['kling'] } },
			options: [
				{
					name: 'Singapore (Global)',
					value: 'singapore',
					description: 'api-singapore.klingai.com',
				},
				{
					name: 'Beijing (Mainland China)',
					value: 'beijing',
					description: 'api-beijing.klingai.com',
				},
				{ name: 'Legacy Global Host', value: 'legacy', description: 'api.klingai.com' },
			],
			default: 'singapore',
		},
		{
			displayName: 'Base URL Override',
			name: 'baseUrl',
			type: 'string',
			default: '',
			placeholder: 'http://127.0.0.1:8787',
			description:
				"Send requests to this host instead of the provider's: a proxy, a gateway or the local " +
				"Kling simulator. Leave empty for the provider's own host.",
		},
		{
			displayName: 'Callback Signing Secret',
			name: 'webhookSecret',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			placeholder: 'whsec_…',
			description:
				'The whsec_… secret from the Kling console (whsec_ followed by base64 of at least 24 ' +
				'bytes). The Kling Expand Trigger uses it to verify that callbacks really come from Kling.',
		},
	];

	/**
	 * A function, not a fixed header, because access-key auth signs a fresh short-lived token per
	 * request. It also refuses a weak Callback Signing Secret: n8n has no validation rule for a
	 * credential field, and this runs on the credential test and on every request, so the user learns
	 * at once, before a trigger relies on a key anyone could sign with.
	 */
	async authenticate(
		credentials: ICredentialDataDecryptedObject,
		requestOptions: IHttpRequestOptions,
	): Promise<IHttpRequestOptions> {
		const weakness = webhookSecretProblem(String(credentials.webhookSecret ?? ''));
		if (weakness)
			throw credentialError(
				`Callback Signing Secret refused: ${weakness}. Copy the whole whsec_… secret from the ` +
					`Kling console, or leave the field empty.`,
			);
		return {
			...requestOptions,
			headers: { ...requestOptions.headers, Authorization: `Bearer ${bearerToken(credentials)}` },
		};
	}

	/** Free, authenticated requests: one list entry from Kling, the model list from CometAPI. */
	test: ICredentialTestRequest = {
		request: {
			baseURL:
				`={{ ($credentials.baseUrl || "").trim().replace(/\\/+$/, "") || ` +
				`($credentials.provider === "cometapi" ? "${COMETAPI_HOST}" : ` +
				`(${JSON.stringify(KLING_HOSTS)})[$credentials.region || "singapore"]) }}`,
			url:
				'={{ $credentials.provider === "cometapi" ? "/v1/models" : ' +
				'"/v1/images/editing/expand" }}',
			qs: { pageNum: 1, pageSize: 1 },
			method: 'GET',
		},
		rules: CREDENTIAL_TEST_FAILURES.map(([status, message]) => ({
			type: 'responseCode' as const,
			properties: { value: status, message },
		})),
	};
}

function bearerToken(credentials: ICredentialDataDecryptedObject): string {
	if (credentials.provider === 'cometapi') return String(credentials.cometApiKey ?? '');
	if (credentials.authMode === 'apiKey') return String(credentials.apiKey ?? '');
	return signKlingJwt(String(credentials.accessKey ?? ''), String(credentials.secretKey ?? ''));
}

/**
 * Why a Callback Signing Secret is unusable, or undefined (an empty field is fine: nothing is
 * verified with it).
 */
function webhookSecretProblem(secret: string): string | undefined {
	const problem = secret === '' ? undefined : signingSecretProblem(secret);
	if (!problem) return undefined;
	if (problem.kind === 'prefix') return 'it must start with whsec_';
	if (problem.kind === 'encoding') return 'it must be whsec_ followed by base64';
	return (
		`it decodes to a ${problem.bytes}-byte key, and at least ${MIN_SECRET_BYTES} bytes are ` +
		`needed`
	);
}

/** Named so the node tells this refusal from a network error and does not retry it. */
function credentialError(message: string): Error {
	const error = new Error(message);
	error.name = 'KlingCredentialError';
	return error;
}
