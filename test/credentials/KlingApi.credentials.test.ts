import type { ICredentialDataDecryptedObject, IHttpRequestOptions } from 'n8n-workflow';

import { KlingApi } from '../../credentials/KlingApi.credentials';
import { signKlingJwt } from '../../nodes/shared/jwt';
import { AUTH_SECRET_FIELDS, SECRET_FIELDS } from '../../nodes/shared/kling';
import { makeWorkflow } from '../harness/engine';
import { useSimulator } from '../harness/fixtures';
import { expandWorkflow, EXPAND_NODE, simulatorCredentials } from '../harness/workflows';
import { SIMULATOR_DEFAULT_KEYS } from '../simulator';

const simulator = useSimulator();
const credential = new KlingApi();
const keys = SIMULATOR_DEFAULT_KEYS;

/** Sends a request the way n8n does after the credential's `authenticate` has signed it. */
async function send(data: ICredentialDataDecryptedObject, path: string) {
	const signed = await credential.authenticate(data, {
		url: path,
		headers: {},
	} as IHttpRequestOptions);
	const response = await fetch(`${simulator().url}${path}`, {
		headers: signed.headers as Record<string, string>,
	});
	return {
		status: response.status,
		body: (await response.json()) as { code: number | null; message: string },
		authorization: String(signed.headers!.Authorization),
	};
}

const LIST = '/v1/images/editing/expand?pageNum=1&pageSize=1';

describe('KlingApi authenticate', () => {
	it('signs an HS256 JWT from the access key and secret key that the simulator verifies', async () => {
		const { status, body, authorization } = await send(
			{
				provider: 'kling',
				authMode: 'accessKey',
				accessKey: keys.accessKey,
				secretKey: keys.secretKey,
			},
			LIST,
		);
		expect(status).toBe(200);
		expect(body.code).toBe(0);
		const [header, claims] = authorization
			.replace('Bearer ', '')
			.split('.')
			.slice(0, 2)
			.map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
		expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
		const now = Math.floor(Date.now() / 1000);
		expect(claims.iss).toBe(keys.accessKey);
		expect(claims.exp - now).toBeGreaterThanOrEqual(1799);
		expect(claims.exp - now).toBeLessThanOrEqual(1800);
		expect(now - claims.nbf).toBeGreaterThanOrEqual(5);
		expect(now - claims.nbf).toBeLessThanOrEqual(6);
	});

	it('signs a fresh token for every request', async () => {
		const first = await send(
			{
				provider: 'kling',
				authMode: 'accessKey',
				accessKey: keys.accessKey,
				secretKey: keys.secretKey,
			},
			LIST,
		);
		await new Promise((resolve) => setTimeout(resolve, 1100));
		const second = await send(
			{
				provider: 'kling',
				authMode: 'accessKey',
				accessKey: keys.accessKey,
				secretKey: keys.secretKey,
			},
			LIST,
		);
		expect(first.authorization).not.toBe(second.authorization);
	});

	it('is refused with 1002 when signed with the wrong secret key', async () => {
		const { status, body } = await send(
			{
				provider: 'kling',
				authMode: 'accessKey',
				accessKey: keys.accessKey,
				secretKey: 'wrong-secret',
			},
			LIST,
		);
		expect([status, body.code]).toEqual([401, 1002]);
	});

	it('is refused with 1004 when the token has expired', async () => {
		const expired = signKlingJwt(
			keys.accessKey,
			keys.secretKey,
			Math.floor(Date.now() / 1000) - 3600,
		);
		const response = await fetch(`${simulator().url}${LIST}`, {
			headers: { Authorization: `Bearer ${expired}` },
		});
		expect([response.status, ((await response.json()) as { code: number }).code]).toEqual([
			401, 1004,
		]);
	});

	it('sends a plain Kling API key as Bearer', async () => {
		const { status, authorization } = await send(
			{ provider: 'kling', authMode: 'apiKey', apiKey: keys.apiKey },
			LIST,
		);
		expect(status).toBe(200);
		expect(authorization).toBe(`Bearer ${keys.apiKey}`);
	});

	it('sends a CometAPI key as Bearer', async () => {
		const { status, authorization } = await send(
			{ provider: 'cometapi', cometApiKey: keys.cometKey },
			'/kling/v1/images/editing/expand?pageNum=1&pageSize=1',
		);
		expect(status).toBe(200);
		expect(authorization).toBe(`Bearer ${keys.cometKey}`);
	});

	it('keeps secrets out of sight: every secret field is a password field', () => {
		const secretFields = ['secretKey', 'apiKey', 'cometApiKey', 'webhookSecret'];
		for (const name of secretFields) {
			expect(
				credential.properties.find((property) => property.name === name)?.typeOptions?.password,
			).toBe(true);
		}
		// The access key names the pair and is readable in every token (n8n's scanner flags masking it).
		expect(
			credential.properties.find((property) => property.name === 'accessKey')?.typeOptions
				?.password,
		).toBeUndefined();
	});

	it('lists every password field among the secrets the node redacts (nodes/shared/kling.ts)', () => {
		const passwordFields = credential.properties
			.filter((property) => property.typeOptions?.password === true)
			.map((property) => property.name);
		expect(passwordFields.length).toBeGreaterThan(0);
		expect(SECRET_FIELDS).toEqual(expect.arrayContaining(passwordFields));
		// And every name in the list is a field of the credential: a renamed field is not missed.
		const fieldNames = credential.properties.map((property) => property.name);
		expect(fieldNames).toEqual(expect.arrayContaining([...SECRET_FIELDS]));
	});

	it('derives the resume-URL key only from fields that authenticate requests', () => {
		expect(SECRET_FIELDS).toEqual(expect.arrayContaining([...AUTH_SECRET_FIELDS]));
		expect(AUTH_SECRET_FIELDS).not.toContain('webhookSecret');
	});
});

describe('KlingApi test request', () => {
	/** Resolves the credential test's expressions with n8n's own expression engine, as n8n does before sending it. */
	async function resolveTestRequest(data: ICredentialDataDecryptedObject) {
		const workflow = await makeWorkflow(expandWorkflow({}));
		const node = workflow.getNode(EXPAND_NODE)!;
		const resolve = (value: string) =>
			String(
				workflow.expression.getSimpleParameterValue(node, value, 'internal', {
					$credentials: data,
				} as never),
			);
		const { request } = credential.test;
		return { url: `${resolve(request.baseURL!)}${resolve(request.url!)}`, qs: request.qs };
	}

	it.each([
		[
			{ provider: 'kling', region: 'singapore' },
			'https://api-singapore.klingai.com/v1/images/editing/expand',
		],
		[
			{ provider: 'kling', region: 'beijing' },
			'https://api-beijing.klingai.com/v1/images/editing/expand',
		],
		[{ provider: 'kling', region: 'legacy' }, 'https://api.klingai.com/v1/images/editing/expand'],
		[{ provider: 'cometapi' }, 'https://api.cometapi.com/v1/models'],
		[
			{ provider: 'kling', baseUrl: 'http://127.0.0.1:8787/' },
			'http://127.0.0.1:8787/v1/images/editing/expand',
		],
	])('asks a free, authenticated endpoint for %o', async (data, url) => {
		expect((await resolveTestRequest(data)).url).toBe(url);
	});

	it.each([
		['accessKey', 200],
		['apiKey', 200],
		['cometapi', 200],
	] as const)('proves a good %s credential against the simulator', async (style, status) => {
		const data = simulatorCredentials(simulator().url, style).klingApi;
		const { url, qs } = await resolveTestRequest(data);
		const signed = await credential.authenticate(data, { url, headers: {} } as IHttpRequestOptions);
		const query = new URLSearchParams(
			Object.entries(qs ?? {}).map(([key, value]): [string, string] => [key, String(value)]),
		);
		const response = await fetch(`${url}?${query}`, {
			headers: signed.headers as Record<string, string>,
		});
		expect(response.status).toBe(status);
		expect(simulator().requests.at(-1)!.method).toBe('GET');
		expect(simulator().acceptedCreates()).toBe(0);
	});

	/**
	 * Runs the test request against the simulator and answers as n8n's credentials tester does for a
	 * failed request: the message of the rule for the HTTP status, else the status text.
	 */
	async function testMessage(data: ICredentialDataDecryptedObject) {
		const { url, qs } = await resolveTestRequest(data);
		const signed = await credential.authenticate(data, { url, headers: {} } as IHttpRequestOptions);
		const query = new URLSearchParams(
			Object.entries(qs ?? {}).map(([key, value]): [string, string] => [key, String(value)]),
		);
		const response = await fetch(`${url}?${query}`, {
			headers: signed.headers as Record<string, string>,
		});
		const rule = (credential.test.rules ?? []).find(
			(candidate) =>
				candidate.type === 'responseCode' && candidate.properties.value === response.status,
		);
		return {
			status: response.status,
			code: ((await response.json()) as { code: number | null }).code,
			message: rule?.properties.message ?? response.statusText,
		};
	}

	it.each([
		['a wrong API key', 'apiKey', { apiKey: 'not-a-key' }, 1002, /check .*the API Key/],
		[
			'a wrong secret key',
			'accessKey',
			{ secretKey: 'wrong' },
			1002,
			/check the Access Key and Secret Key/,
		],
		[
			'a wrong CometAPI key',
			'cometapi',
			{ cometApiKey: 'wrong' },
			1002,
			/CometAPI: check the CometAPI Key/,
		],
	] as const)(
		'fails %s with a message naming the field to check',
		async (_case, style, wrong, code, hint) => {
			const data = simulatorCredentials(simulator().url, style, wrong).klingApi;
			const answer = await testMessage(data);
			expect([answer.status, answer.code]).toEqual([401, code]);
			expect(answer.message).toMatch(hint);
			expect(answer.message).not.toContain(String(Object.values(wrong)[0]));
		},
	);

	it('fails a Base URL Override that is not the API with a message naming it and the Region', async () => {
		const data = simulatorCredentials(simulator().url, 'apiKey', {
			baseUrl: `${simulator().url}/api`,
		}).klingApi;
		const answer = await testMessage(data);
		expect(answer.status).toBe(404);
		expect(answer.message).toMatch(/check the Region, and the Base URL Override/);
	});

	it('has a message for each status Kling answers a usable request with a key problem', () => {
		expect((credential.test.rules ?? []).map((rule) => rule.properties.value)).toEqual([
			401, 403, 404, 429,
		]);
	});
});
