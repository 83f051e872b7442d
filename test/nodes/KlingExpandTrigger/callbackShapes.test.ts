import type { IDataObject } from 'n8n-workflow';

import { capturedLogs, runWorkflow } from '../../harness/engine';
import { testImage, useSimulator } from '../../harness/fixtures';
import type { WebhookServer } from '../../harness/webhooks';
import { serveTrigger, TRIGGER_NODE, triggerWorkflow } from '../../harness/webhooks';
import {
	binaryItem,
	EXPAND_NODE,
	expandWorkflow,
	simulatorCredentials,
	UP_RATIOS,
} from '../../harness/workflows';
import { SIMULATOR_DEFAULT_KEYS, signStandardWebhook } from '../../simulator';

/** The trigger with both of Kling's callback shapes, the console's test callback, weak secrets and redacted URLs. */
const simulator = useSimulator({
	webhookSecret: SIMULATOR_DEFAULT_KEYS.webhookSecret,
	taskDurationMs: 100,
});
const servers: WebhookServer[] = [];
afterEach(async () => {
	await Promise.all(servers.splice(0).map(async (server) => await server.close()));
});

async function serve(
	parameters: IDataObject = {},
	webhookSecret: string = SIMULATOR_DEFAULT_KEYS.webhookSecret,
): Promise<WebhookServer> {
	const server = await serveTrigger(
		triggerWorkflow(parameters as never),
		TRIGGER_NODE,
		simulatorCredentials(simulator().url, 'accessKey', { webhookSecret }),
	);
	servers.push(server);
	return server;
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > deadline) throw new Error('Timed out waiting for a condition');
		await new Promise((resolve) => setTimeout(resolve, 10));
	}
}

/** POSTs a body signed with `secret` (Standard Webhooks). */
async function post(
	server: WebhookServer,
	body: unknown,
	secret: string,
): Promise<{ status: number; body: IDataObject }> {
	const raw = JSON.stringify(body);
	const id = `msg_${Date.now()}_${Math.random()}`;
	const timestamp = String(Math.floor(Date.now() / 1000));
	const response = await fetch(server.url, {
		method: 'POST',
		headers: {
			'content-type': 'application/json',
			'webhook-id': id,
			'webhook-timestamp': timestamp,
			'webhook-signature': signStandardWebhook(secret, id, timestamp, raw),
		},
		body: raw,
		signal: AbortSignal.timeout(5000),
	});
	return { status: response.status, body: (await response.json()) as IDataObject };
}

describe('new-shape callbacks', () => {
	it('start the trigger workflow with the task in the legacy names, the newer fields kept', async () => {
		const sim = simulator();
		sim.setModes({ callbackShape: 'new' });
		const server = await serve();
		const submitted = await runWorkflow(
			expandWorkflow({
				operation: 'submit',
				imageSource: 'binary',
				...UP_RATIOS,
				options: { callbackUrl: server.url, watermark: true },
			} as never),
			{
				startNode: EXPAND_NODE,
				input: [binaryItem(await testImage())],
				credentials: simulatorCredentials(sim.url),
			},
		);
		expect(submitted.error).toBeUndefined();
		const { task_id: taskId, external_task_id: externalTaskId } =
			submitted.output(EXPAND_NODE)[0].json;
		await waitFor(() => sim.callbackDeliveries.length === 3);
		await server.settled();
		// What went over the wire was the newer shape.
		const sent = JSON.parse(sim.callbackDeliveries[2].rawBody) as IDataObject;
		expect(sent).toMatchObject({
			id: taskId,
			status: 'succeeded',
			external_id: externalTaskId,
			outputs: [expect.objectContaining({ watermark_url: expect.any(String) })],
		});
		expect(sent.task_id).toBeUndefined();
		expect(sim.callbackDeliveries.map((delivery) => delivery.status)).toEqual([200, 200, 200]);
		expect(server.failures).toEqual([]);
		expect(server.runs).toHaveLength(1);
		const [item] = server.runs[0].output(TRIGGER_NODE);
		expect(item.json).toMatchObject({
			task_id: taskId,
			task_status: 'succeed',
			external_task_id: externalTaskId,
			final_unit_deduction: '8',
			final_balance_deduction: '0',
			billing: { units: 8, currency: 'unit' },
			task_result: {
				images: [
					{
						index: 0,
						url: expect.stringContaining(sim.url),
						watermark_url: expect.stringContaining('-watermark.png'),
					},
				],
			},
		});
	});

	it('pass through unknown fields as plain data, never prototype keys', async () => {
		const server = await serve();
		const body = JSON.parse(
			'{"id":"t-proto","status":"succeeded","outputs":["https://cdn.example/a.png"],"region":"sg","__proto__":{"polluted":true},"meta":{"constructor":{"prototype":{"polluted":true}},"tier":"pro"}}',
		) as IDataObject;
		expect((await post(server, body, SIMULATOR_DEFAULT_KEYS.webhookSecret)).status).toBe(200);
		await server.settled();
		const [item] = server.runs[0].output(TRIGGER_NODE);
		expect(item.json).toEqual({
			task_id: 't-proto',
			task_status: 'succeed',
			delivery_key: 't-proto:succeed',
			region: 'sg',
			meta: { tier: 'pro' },
			task_result: { images: [{ index: 0, url: 'https://cdn.example/a.png' }] },
		});
		expect(({} as IDataObject).polluted).toBeUndefined();
		expect(Object.getPrototypeOf(item.json)).toBe(Object.prototype);
	});
});

describe("the Kling console's test callback", () => {
	it('is answered 200 and starts nothing while Submitted is not a selected status', async () => {
		const server = await serve();
		const delivery = await simulator().sendTestCallback(server.url);
		await server.settled();
		expect(delivery.status).toBe(200);
		expect(JSON.parse(delivery.rawBody)).toMatchObject({ status: 'submitted' });
		expect(server.runs).toHaveLength(0);
		expect(server.failures).toEqual([]);
	});

	it('starts the workflow when Submitted is selected', async () => {
		const server = await serve({ statuses: ['submitted'] });
		const delivery = await simulator().sendTestCallback(server.url);
		await server.settled();
		expect(delivery.status).toBe(200);
		expect(server.runs).toHaveLength(1);
		expect(server.runs[0].output(TRIGGER_NODE)[0].json).toMatchObject({
			task_status: 'submitted',
			task_id: expect.stringMatching(/^test_/),
		});
	});
});

describe('weak signing secrets', () => {
	it.each(['whsec_', 'whsec_…', 'whsec_AA=='])(
		'the trigger refuses to verify with %s, even a callback signed with that very key',
		async (secret) => {
			const server = await serve({}, secret);
			// Anyone can compute this signature: the key is empty or one byte.
			const answer = await post(server, { task_id: 'forged', task_status: 'succeed' }, secret);
			await server.settled();
			expect(answer.status).toBe(401);
			expect(String(answer.body.error)).toMatch(
				/signature check failed: the Callback Signing Secret (decodes to a [01]-byte key; it needs at least 24 bytes|must be whsec_ followed by base64)/,
			);
			expect(server.runs).toHaveLength(0);
		},
	);
});

describe('URLs in download_error and logs', () => {
	it('show origin and path only', async () => {
		const sim = simulator();
		const server = await serve({ downloadImages: true });
		const start = capturedLogs.length;
		const host = sim.url.replace('http://', '');
		const url = `http://cdn-user:cdn-pa55@${host}/results/missing/0.png?Signature=s3cr3tsig&Expires=1`;
		expect(
			(
				await post(
					server,
					{
						task_id: 'redact-1',
						task_status: 'succeed',
						task_result: { images: [{ index: 0, url }] },
					},
					SIMULATOR_DEFAULT_KEYS.webhookSecret,
				)
			).status,
		).toBe(200);
		await server.settled();
		const [item] = server.runs[0].output(TRIGGER_NODE);
		expect(item.json.download_error).toContain(
			`but its result image is gone: Downloading ${sim.url}/results/missing/0.png answered ` +
				'HTTP 404. Kling deletes result images 30 days after the task',
		);
		const logs = capturedLogs.slice(start).join('\n');
		expect(logs).toContain(`${sim.url}/results/missing/0.png`);
		for (const secret of ['cdn-pa55', 'cdn-user', 's3cr3tsig', 'Expires='])
			expect(`${String(item.json.download_error)}\n${logs}`).not.toContain(secret);
	});
});
