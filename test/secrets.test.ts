import { createServer } from 'node:net';

import { capturedLogs, NODE_TYPES, runWorkflow } from './harness/engine';
import type { RunResult } from './harness/engine';
import { FAST_WAIT, testImage } from './harness/fixtures';
import { serveTrigger } from './harness/webhooks';
import { binaryItem, EXPAND_NODE, expandWorkflow, UP_DOWN_RATIOS } from './harness/workflows';
import type { Simulator } from './simulator';
import { signStandardWebhook, startSimulator } from './simulator';

/** Distinctive secrets, so any leak is found by plain substring search. */
const SECRETS = {
	apiKey: 'leakcheck-api-key-6f1d2c',
	accessKey: 'leakcheck-access-key-84b2',
	secretKey: 'leakcheck-secret-key-0a9e77',
	cometKey: 'leakcheck-comet-key-51c3',
	webhookSecret: `whsec_${Buffer.from('leakcheck-webhook-signing-key-32b').toString('base64')}`,
	sharedToken: 'leakcheck-shared-token-7d2',
};

const AUTH = {
	accessKey: {
		provider: 'kling',
		authMode: 'accessKey',
		accessKey: SECRETS.accessKey,
		secretKey: SECRETS.secretKey,
	},
	apiKey: { provider: 'kling', authMode: 'apiKey', apiKey: SECRETS.apiKey },
	cometapi: { provider: 'cometapi', cometApiKey: SECRETS.cometKey },
};

const credentialsFor = (baseUrl: string, style: keyof typeof AUTH) => ({
	klingApi: { ...AUTH[style], baseUrl, webhookSecret: SECRETS.webhookSecret },
});

let sim: Simulator;
const seen: string[] = [];
/** Every token a request was signed with; kept across simulator resets. */
const bearerTokens = new Set<string>();

function resetSimulator() {
	for (const request of sim.requests)
		bearerTokens.add(String(request.headers.authorization ?? '').replace(/^Bearer /, ''));
	sim.reset();
}

function record(result: RunResult) {
	seen.push(JSON.stringify(result.run.data.resultData));
	if (result.error)
		seen.push(
			String(result.error.message),
			String(result.error.description),
			JSON.stringify(result.error),
		);
}

async function expand(
	style: 'accessKey' | 'apiKey' | 'cometapi',
	parameters: object = {},
	baseUrl = sim.url,
	onError?: 'continueRegularOutput',
) {
	const result = await runWorkflow(
		expandWorkflow(
			{
				operation: 'submitAndWait',
				imageSource: 'binary',
				...UP_DOWN_RATIOS,
				...parameters,
				options: { ...FAST_WAIT, ...(parameters as { options?: object }).options },
			} as never,
			onError ? { onError } : {},
		),
		{
			startNode: EXPAND_NODE,
			input: [binaryItem(await testImage())],
			credentials: credentialsFor(baseUrl, style),
		},
	);
	record(result);
	return result;
}

beforeAll(async () => {
	sim = await startSimulator({
		taskDurationMs: 120,
		apiKeys: [SECRETS.apiKey],
		accessKeys: [{ accessKey: SECRETS.accessKey, secretKey: SECRETS.secretKey }],
		cometKeys: [SECRETS.cometKey],
		webhookSecret: SECRETS.webhookSecret,
	});
});
afterAll(async () => await sim.close());

describe('secrets stay out of outputs, errors and logs', () => {
	it('runs successes and every kind of failure, capturing what users would see', async () => {
		for (const style of ['accessKey', 'apiKey', 'cometapi'] as const) {
			expect((await expand(style)).error).toBeUndefined();
			for (const code of [1002, 1102, 1201, 5000]) {
				sim.injectFault({ on: 'create', kind: 'code', code, times: 10 });
				expect((await expand(style, { options: { retryDelay: 0.005 } })).error).toBeDefined();
				resetSimulator();
			}
			sim.injectFault({ on: 'create', kind: 'code', code: 1004, times: 2 });
			expect((await expand(style)).error).toMatchObject({ name: 'NodeApiError' });
			sim.injectFault({ on: 'create', kind: 'malformed', times: 10 });
			expect(
				(
					await expand(style, { options: { retryDelay: 0.005 } }, sim.url, 'continueRegularOutput')
				).output(EXPAND_NODE)[0].json.error,
			).toBeDefined();
			resetSimulator();
			sim.injectFault({ on: 'any', kind: 'cometNull404' });
			expect((await expand(style)).error).toBeDefined();
			sim.failTasksWith('moderation');
			expect((await expand(style)).error).toMatchObject({ name: 'NodeOperationError' });
			sim.failTasksWith(null);
		}
		// A network error: nothing listens on this port.
		const closed = await new Promise<number>((resolve) => {
			const server = createServer().listen(0, '127.0.0.1', () => {
				const { port } = server.address() as { port: number };
				server.close(() => resolve(port));
			});
		});
		const refused = await expand(
			'accessKey',
			{ options: { retryDelay: 0.005 } },
			`http://127.0.0.1:${closed}`,
		);
		expect(refused.error).toMatchObject({
			name: 'NodeApiError',
			message: expect.stringMatching(
				/could not reach 127\.0\.0\.1:\d+: the connection was refused/,
			),
		});

		// Trigger deliveries, accepted and refused (the refusals are logged).
		const trigger = await serveTrigger(
			{
				nodes: [
					{
						id: 't',
						name: 'Trigger',
						type: NODE_TYPES.trigger,
						typeVersion: 1,
						position: [0, 0],
						parameters: { sharedToken: SECRETS.sharedToken },
						credentials: { klingApi: { id: '1', name: 'Kling' } },
						webhookId: 'leak',
					},
				],
				connections: {},
			},
			'Trigger',
			credentialsFor(sim.url, 'accessKey'),
		);
		const body = JSON.stringify({
			task_id: 't1',
			task_status: 'succeed',
			task_info: { external_task_id: 'e1' },
		});
		const timestamp = String(Math.floor(Date.now() / 1000));
		const good = signStandardWebhook(SECRETS.webhookSecret, 'msg1', timestamp, body);
		for (const [signature, token] of [
			[good, SECRETS.sharedToken],
			['v1,AAAA', SECRETS.sharedToken],
			[good, 'wrong-token'],
		]) {
			await fetch(`${trigger.url}?token=${token}`, {
				method: 'POST',
				body,
				headers: {
					'content-type': 'application/json',
					'webhook-id': 'msg1',
					'webhook-timestamp': timestamp,
					'webhook-signature': signature,
				},
			});
		}
		for (const run of await trigger.waitForRuns(1)) record(run);
		await trigger.close();
		expect(capturedLogs.some((line) => /refused a callback/.test(line))).toBe(true);
	}, 120_000);

	it('finds none of the keys, secrets, signed tokens or the webhook signing key in anything captured', () => {
		resetSimulator();
		const jwts = [...bearerTokens].filter((token) => token.split('.').length === 3);
		// Tokens signed within the same second are identical, so a few distinct ones is all there is.
		expect(jwts.length).toBeGreaterThan(1);
		const forbidden = [
			...Object.values(SECRETS),
			SECRETS.webhookSecret.replace('whsec_', ''),
			Buffer.from(SECRETS.webhookSecret.replace('whsec_', ''), 'base64').toString(),
			...jwts,
		];
		const haystack = [...seen, ...capturedLogs].join('\n');
		expect(seen.length).toBeGreaterThan(30);
		for (const secret of forbidden)
			expect(haystack.includes(secret) ? secret : undefined).toBeUndefined();
	});
});
