import dns from 'node:dns';
import { createServer } from 'node:net';

import { KlingFailure, toNodeApiError } from '../../../../nodes/shared/transport/failure';
import { requestFailure } from '../../../../nodes/shared/transport/request';
import { capturedLogs, runWorkflow } from '../../../harness/engine';
import { requestsOf, testImage, useSimulator } from '../../../harness/fixtures';
import {
	binaryItem,
	EXPAND_NODE,
	expandWorkflow,
	simulatorCredentials,
	UP_RATIOS,
} from '../../../harness/workflows';
import type { ExternalIdLookup, Fault } from '../../../simulator';

/**
 * The edges of the provider and the network: the three external-id lookup forms, redirects, refused
 * creates, permanent network errors, trickling servers, weak signing secrets, URL redaction.
 */
const simulator = useSimulator({ taskDurationMs: 100 });
const QUICK = { retryDelay: 0.02, requestTimeout: 1 };
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

async function submit(
	options: object = {},
	baseUrl = simulator().url,
	credentialExtra: object = {},
) {
	return await runWorkflow(
		expandWorkflow({
			operation: 'submit',
			imageSource: 'binary',
			...UP_RATIOS,
			options: { ...QUICK, ...options },
		} as never),
		{
			startNode: EXPAND_NODE,
			input: [binaryItem(await testImage())],
			credentials: simulatorCredentials(baseUrl, 'accessKey', credentialExtra as never),
		},
	);
}

async function getTask(
	ids: string[],
	parameters: object = {},
	baseUrl = simulator().url,
	credentialExtra: object = {},
) {
	return await runWorkflow(
		expandWorkflow({ operation: 'getTask', taskId: '={{ $json.id }}', ...parameters } as never),
		{
			startNode: EXPAND_NODE,
			input: ids.map((id) => ({ json: { id } })),
			credentials: simulatorCredentials(baseUrl, 'accessKey', credentialExtra as never),
		},
	);
}

/** How lookups reached the simulator: `path`, `pathFlag` or `collection`, in order. */
const lookupForms = () =>
	simulator()
		.requests.filter(
			(request) => request.method === 'GET' && /\/v1\/images\/editing\/expand/.test(request.path),
		)
		.map((request) =>
			request.path.includes('expand?external_task_id=')
				? 'collection'
				: request.path.includes('?external_task_id=true')
					? 'pathFlag'
					: 'path',
		);

/** The simulator sees the client hang up a moment after the client moves on: wait for it (loosely). */
async function closedTrickle(index = 0) {
	const deadline = Date.now() + 5000;
	while (simulator().trickles[index]?.closedAt === undefined && Date.now() < deadline)
		await new Promise((resolve) => setTimeout(resolve, 20));
	return simulator().trickles[index];
}

const errorText = (error: Record<string, unknown> | undefined) =>
	`${String(error?.message)} ${String(error?.description)}`;

describe.each<ExternalIdLookup>(['path', 'pathFlag', 'collection'])(
	'a provider that looks external ids up by %s',
	(mode) => {
		beforeEach(() => simulator().setModes({ externalIdLookup: mode }));

		it('Get Task finds a task by external_task_id, and the second lookup of the run goes straight to the form that worked', async () => {
			const sim = simulator();
			await submit({ externalTaskId: `order-${mode}-1` });
			await submit({ externalTaskId: `order-${mode}-2` });
			await settle();
			sim.requests.length = 0;
			const result = await getTask([`order-${mode}-1`, `order-${mode}-2`], {
				findBy: 'externalTaskId',
			});
			expect(result.error).toBeUndefined();
			const byExternalId = new Map(
				[...sim.tasks.values()].map((task) => [task.task_info.external_task_id, task.task_id]),
			);
			expect(
				result
					.output(EXPAND_NODE)
					.map((item) => [item.json.external_task_id, item.json.task_id, item.json.task_status]),
			).toEqual([
				[`order-${mode}-1`, byExternalId.get(`order-${mode}-1`), 'succeed'],
				[`order-${mode}-2`, byExternalId.get(`order-${mode}-2`), 'succeed'],
			]);
			const forms = lookupForms();
			// Tried in order until one answered; the second item asked that form alone.
			expect(forms.at(-1)).toBe(mode);
			expect(forms.slice(forms.indexOf(mode) + 1)).toEqual([mode]);
		});

		it('Get Task names an external id no form finds', async () => {
			const result = await getTask(['no-such-order'], { findBy: 'externalTaskId' });
			expect(result.error).toMatchObject({
				name: 'NodeApiError',
				httpCode: '404',
				message: expect.stringMatching(
					/Kling error 1203.*no task has external_task_id no-such-order/,
				),
			});
			expect(lookupForms()).toEqual(['path', 'pathFlag', 'collection']);
		});

		it.each<[string, Fault, object]>([
			[
				'a dropped connection after the create was accepted (generated id)',
				{ on: 'create', kind: 'dropAfterAccept' },
				{},
			],
			[
				"an answer slower than the Request Timeout (the user's own id)",
				{ on: 'create', kind: 'slow', delayMs: 1500 },
				{ externalTaskId: `lost-${mode}` },
			],
		])(
			'recovers from %s: the task is adopted, one task, no error',
			async (_name, fault, options) => {
				const sim = simulator();
				sim.injectFault(fault);
				const result = await submit(options);
				expect(result.error).toBeUndefined();
				expect(sim.acceptedCreates()).toBe(1);
				const [task] = [...sim.tasks.values()];
				expect(result.output(EXPAND_NODE)[0].json).toMatchObject({
					task_id: task.task_id,
					external_task_id: task.task_info.external_task_id,
				});
				// No second create was sent: the lookup found the first.
				expect(requestsOf(sim, 'create')).toHaveLength(1);
			},
		);
	},
);

describe('redirects', () => {
	it('a 301 to an HTML sign-in page fails at once, names the status, the (redacted) Location and the Base URL, and is not followed or retried', async () => {
		const sim = simulator();
		sim.injectFault({ on: 'create', kind: 'redirect', times: 100 });
		const started = Date.now();
		// A retry would wait at least 5 s with this delay, and the old behaviour retried for minutes.
		const result = await submit({ retryDelay: 10 });
		expect(Date.now() - started).toBeLessThan(5000);
		expect(result.error).toMatchObject({
			name: 'NodeApiError',
			httpCode: '301',
			message: expect.stringMatching(
				new RegExp(`HTTP 301, a redirect to ${sim.url}/login, which was not followed`),
			),
		});
		const text = errorText(result.error);
		expect(text).toContain(`${sim.url} is not the API itself`);
		expect(text).toContain('Nothing was submitted');
		expect(text).not.toMatch(/Tasks already submitted|not JSON/);
		for (const secret of ['hunter2', 'admin:', 'sim-session-token', 'next='])
			expect(text).not.toContain(secret);
		expect(requestsOf(sim, 'create')).toHaveLength(1);
		expect(sim.requests.filter((request) => request.path.startsWith('/login'))).toHaveLength(0);
		expect(sim.tasks.size).toBe(0);
	});

	it('a Base URL with user:pass@ is shown without them', () => {
		const failure = new KlingFailure(
			'redirect',
			'The Kling API answered HTTP 302, a redirect to https://proxy.example/login?ticket=t1, which was not followed',
			undefined,
			302,
		);
		failure.remedy =
			"Kling's API does not redirect, so https://proxyuser:proxypa55@proxy.example is not the API itself.";
		const error = toNodeApiError(
			{
				id: '1',
				name: 'Kling Expand',
				type: 'klingExpand',
				typeVersion: 1,
				position: [0, 0],
				parameters: {},
			},
			failure,
		);
		expect(error.message).toBe(
			'The Kling API answered HTTP 302, a redirect to https://proxy.example/login, which was not followed',
		);
		expect(error.description).toBe(
			"Kling's API does not redirect, so https://proxy.example is not the API itself.",
		);
	});

	it('a redirect on Get Task is refused the same way', async () => {
		const sim = simulator();
		sim.injectFault({ on: 'query', kind: 'redirect' });
		const result = await getTask(['784512063975329862'], { options: { retryDelay: 10 } });
		expect(result.error).toMatchObject({
			httpCode: '301',
			message: expect.stringMatching(/redirect .*not followed/),
		});
		expect(requestsOf(sim, 'query')).toHaveLength(1);
	});
});

describe('refused creates name no task', () => {
	it.each<[string, Fault, 'accessKey' | 'cometapi']>([
		['1102 resource pack used up', { on: 'create', kind: 'code', code: 1102 }, 'accessKey'],
		['1304 IP whitelist', { on: 'create', kind: 'code', code: 1304 }, 'accessKey'],
		['CometAPI {code: null, message: "404"}', { on: 'create', kind: 'cometNull404' }, 'cometapi'],
	])('%s', async (_name, fault, auth) => {
		const sim = simulator();
		sim.injectFault(fault);
		const result = await runWorkflow(
			expandWorkflow({
				operation: 'submit',
				imageSource: 'binary',
				...UP_RATIOS,
				options: QUICK,
			} as never),
			{
				startNode: EXPAND_NODE,
				input: [binaryItem(await testImage())],
				credentials: simulatorCredentials(sim.url, auth),
			},
		);
		expect(result.error).toMatchObject({ name: 'NodeApiError' });
		const text = errorText(result.error);
		expect(text).not.toMatch(/Tasks already submitted|may still have made a task|n8n-\d/);
		expect(requestsOf(sim, 'create')).toHaveLength(1);
		expect(sim.tasks.size).toBe(0);
	});
});

describe('permanent network errors fail at once, with the cause and the host', () => {
	async function closedPort(): Promise<number> {
		const server = createServer();
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		const { port } = server.address() as { port: number };
		await new Promise((resolve) => server.close(resolve));
		return port;
	}

	it('ECONNREFUSED on a closed loopback port', async () => {
		const port = await closedPort();
		const started = Date.now();
		const result = await submit({ retryDelay: 10 }, `http://127.0.0.1:${port}`);
		expect(Date.now() - started).toBeLessThan(5000);
		expect(result.error).toMatchObject({
			name: 'NodeApiError',
			message: `The Kling API request could not reach 127.0.0.1:${port}: the connection was refused (nothing listens at that address and port) (ECONNREFUSED)`,
		});
		expect(String(result.error!.description)).toMatch(/Check the host and port .*Nothing was sent/);
	});

	it('ENOTFOUND for an unknown host (a .invalid name, resolved by an injected lookup: no real DNS query)', async () => {
		const original = dns.lookup;
		const asked: string[] = [];
		(dns as { lookup: unknown }).lookup = (hostname: string, ...rest: unknown[]) => {
			asked.push(hostname);
			const callback = rest[rest.length - 1] as (error: Error) => void;
			process.nextTick(() =>
				callback(
					Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
						code: 'ENOTFOUND',
						hostname,
					}),
				),
			);
		};
		try {
			const started = Date.now();
			const result = await getTask(['784512063975329862'], {}, 'http://kling-api.invalid', {});
			expect(Date.now() - started).toBeLessThan(5000);
			expect(result.error).toMatchObject({
				name: 'NodeApiError',
				message:
					'The Kling API request could not reach kling-api.invalid: the host name does not resolve (ENOTFOUND)',
			});
			expect(String(result.error!.description)).toMatch(/Base URL Override/);
			// One lookup: the request was not retried.
			expect(asked).toEqual(['kling-api.invalid']);
		} finally {
			(dns as { lookup: unknown }).lookup = original;
		}
	});

	it.each([
		[
			'an untrusted certificate',
			{ code: 'DEPTH_ZERO_SELF_SIGNED_CERT', message: 'self-signed certificate' },
			/TLS certificate is not trusted/,
		],
		[
			"n8n's SSRF protection",
			{
				name: 'SsrfBlockedIpError',
				message: 'The request was blocked because it resolves to a restricted IP address',
			},
			/blocked by n8n's SSRF protection/,
		],
	])('%s is permanent too', (_name, cause, message) => {
		// As n8n hands it over: a NodeApiError whose cause is the transport's error.
		const failure = requestFailure(
			{ message: 'wrapped', cause },
			'https://proxy.example:8443/v1/images/editing/expand',
			undefined,
			{ attempts: 3, retryDelayMs: 1, timeoutMs: 1000 },
			'The Kling API request',
		);
		expect(failure.kind).toBe('unreachable');
		expect(failure.retry).toBe('never');
		expect(failure.mayHaveBeenAccepted).toBe(false);
		expect(failure.message).toMatch(message);
		expect(failure.message).toContain('proxy.example:8443');
	});

	it.each(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED'])(
		'%s stays transient (retried)',
		(code) => {
			const failure = requestFailure(
				{ message: 'wrapped', cause: { code } },
				'http://127.0.0.1:1/x',
				undefined,
				{ attempts: 3, retryDelayMs: 1, timeoutMs: 1000 },
				'The Kling API request',
			);
			expect([failure.kind, failure.retry]).toEqual(['network', 'backoff']);
		},
	);
});

describe('the Request Timeout is a wall-clock deadline', () => {
	it('cuts an API answer trickled at 3 B/s, then asks again', async () => {
		const sim = simulator();
		await submit({ externalTaskId: 'trickle-api' });
		await settle();
		sim.injectFault({ on: 'query', kind: 'trickle', bytesPerSecond: 3 });
		const result = await getTask(['trickle-api'], { findBy: 'externalTaskId', options: QUICK });
		expect(result.error).toBeUndefined();
		expect(result.output(EXPAND_NODE)[0].json.task_status).toBe('succeed');
		const trickle = await closedTrickle();
		expect(trickle.cutByClient).toBe(true);
		// Request Timeout 1 s: cut near 1 s, long before the ~2 minutes a 3 B/s answer would take.
		expect(trickle.closedAt! - trickle.startedAt).toBeGreaterThanOrEqual(900);
		expect(trickle.closedAt! - trickle.startedAt).toBeLessThan(4000);
	});

	it('cuts a result download trickled at 3 B/s, then downloads it again', async () => {
		const sim = simulator();
		await submit({ externalTaskId: 'trickle-download' });
		await settle();
		sim.injectFault({ on: 'result', kind: 'trickle', bytesPerSecond: 3 });
		const result = await getTask(['trickle-download'], {
			findBy: 'externalTaskId',
			downloadImages: true,
			options: { requestTimeout: 1, retryDelay: 0.02 },
		});
		expect(result.error).toBeUndefined();
		expect(result.output(EXPAND_NODE)[0].binary?.data.mimeType).toBe('image/png');
		const trickle = await closedTrickle();
		expect(trickle.cutByClient).toBe(true);
		expect(trickle.closedAt! - trickle.startedAt).toBeGreaterThanOrEqual(900);
		expect(trickle.closedAt! - trickle.startedAt).toBeLessThan(4000);
	});

	it('reads an input URL only until the image size is known', async () => {
		const sim = simulator();
		await submit({ externalTaskId: 'source-image' });
		await settle();
		const [source] = [...sim.tasks.values()];
		// 100 B/s: the PNG size is in the first 33 bytes; waiting for 64 KB would take 11 minutes.
		sim.injectFault({ on: 'result', kind: 'trickle', bytesPerSecond: 100 });
		const result = await runWorkflow(
			expandWorkflow({
				operation: 'submit',
				imageSource: 'url',
				imageUrl: source.task_result!.images[0].url,
				...UP_RATIOS,
				options: { requestTimeout: 20 },
			} as never),
			{
				startNode: EXPAND_NODE,
				input: [{ json: {} }],
				credentials: simulatorCredentials(sim.url),
			},
		);
		expect(result.error).toBeUndefined();
		expect(result.output(EXPAND_NODE)[0].json.expansion).toMatchObject({
			original_width: 400,
			original_height: 450,
		});
		const trickle = await closedTrickle();
		expect(trickle.cutByClient).toBe(true);
		expect(trickle.bytesSent).toBeLessThan(200);
	});
});

describe('weak Callback Signing Secrets', () => {
	it.each([
		'whsec_',
		'whsec_…',
		'whsec_AA==',
		`whsec_${Buffer.from('only-twenty-three-bytes').toString('base64').slice(0, 30)}`,
		'not-a-whsec-secret',
	])(
		'the credential refuses %s before any request, with a clear message',
		async (webhookSecret) => {
			const sim = simulator();
			const started = Date.now();
			const result = await getTask(['784512063975329862'], {}, sim.url, { webhookSecret });
			expect(Date.now() - started).toBeLessThan(5000);
			expect(result.error).toMatchObject({
				name: 'NodeApiError',
				message: expect.stringMatching(
					/^Callback Signing Secret refused: .*(whsec_|base64|byte key).*Copy the whole whsec_… secret/,
				),
			});
			if (webhookSecret.length > 10)
				expect(String(result.error!.message)).not.toContain(webhookSecret);
			expect(sim.requests).toHaveLength(0);
		},
	);
});

describe('URLs in errors and logs show origin and path only', () => {
	it("an input URL with user:pass@ and a signed query is redacted in the error and in n8n's log", async () => {
		const sim = simulator();
		const host = sim.url.replace('http://', '');
		capturedLogs.length = 0;
		const result = await runWorkflow(
			expandWorkflow({
				operation: 'submit',
				imageSource: 'url',
				imageUrl: `http://photos:pa55w0rd@${host}/results/none/0.png?X-Amz-Signature=abc123def`,
				...UP_RATIOS,
				options: QUICK,
			} as never),
			{ startNode: EXPAND_NODE, input: [{ json: {} }], credentials: simulatorCredentials(sim.url) },
		);
		expect(result.error).toMatchObject({
			message: `Downloading ${sim.url}/results/none/0.png answered HTTP 404`,
		});
		// What n8n shows and logs (the node's own parameters, stored with the error, are the user's input).
		const { message, description, messages } = result.error as {
			message: string;
			description?: string;
			messages?: string[];
		};
		const shown = [message, description, ...(messages ?? []), ...capturedLogs].join('\n');
		for (const secret of ['pa55w0rd', 'photos:', 'X-Amz-Signature', 'abc123def'])
			expect(shown).not.toContain(secret);
	});

	it('a download that times out is named by origin and path', async () => {
		const failure = requestFailure(
			undefined,
			'https://u:p@cdn.example/a.png?sig=1',
			AbortSignal.abort(),
			{ attempts: 1, retryDelayMs: 1, timeoutMs: 2000 },
			'The download of https://u:p@cdn.example/a.png?sig=1',
		);
		expect(failure.message).toBe(
			'The download of https://cdn.example/a.png from cdn.example did not complete within the Request Timeout of 2 s',
		);
	});
});

it('a cancelled execution is not reported as a Request Timeout', () => {
	const cancelled = new AbortController();
	cancelled.abort();
	const failure = requestFailure(
		{ code: 'ERR_CANCELED' },
		'http://127.0.0.1:1/x',
		AbortSignal.abort(),
		{ attempts: 1, retryDelayMs: 1, timeoutMs: 1000, signal: cancelled.signal },
		'The Kling API request',
	);
	expect(failure.message).not.toMatch(/Request Timeout/);
});
