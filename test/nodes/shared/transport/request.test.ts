import { backoffDelay } from '../../../../nodes/shared/transport/retry';
import { KlingFailure } from '../../../../nodes/shared/transport/failure';
import { unwrapEnvelope } from '../../../../nodes/shared/transport/request';
import { runWorkflow } from '../../../harness/engine';
import { FAST_WAIT, requestsOf, testImage, useSimulator } from '../../../harness/fixtures';
import type { AuthStyle } from '../../../harness/workflows';
import {
	binaryItem,
	expandWorkflow,
	EXPAND_NODE,
	simulatorCredentials,
} from '../../../harness/workflows';
import type { Fault } from '../../../simulator';

const simulator = useSimulator();
const ratios = {
	expansionMode: 'ratios',
	upExpansionRatio: 0.5,
	downExpansionRatio: 0.5,
	leftExpansionRatio: 0,
	rightExpansionRatio: 0,
};

async function submitAndWait(auth: AuthStyle = 'accessKey', options: object = {}) {
	const sim = simulator();
	return await runWorkflow(
		expandWorkflow({
			operation: 'submitAndWait',
			imageSource: 'binary',
			...ratios,
			downloadImages: false,
			options: { ...FAST_WAIT, ...options },
		} as never),
		{
			startNode: EXPAND_NODE,
			input: [binaryItem(await testImage())],
			credentials: simulatorCredentials(sim.url, auth),
		},
	);
}

describe('unwrapEnvelope', () => {
	it('returns data for code 0, numeric or string', () => {
		expect(unwrapEnvelope(200, { code: 0, data: { a: 1 } })).toEqual({ a: 1 });
		expect(unwrapEnvelope(200, { code: '0', data: [1] })).toEqual([1]);
	});

	it('decides retries on the service code, not on HTTP 429 alone', () => {
		const failure = (body: object, status = 429) => {
			try {
				unwrapEnvelope(status, body);
			} catch (error) {
				return error as KlingFailure;
			}
			throw new Error('no failure');
		};
		expect(failure({ code: 1303, message: 'busy' }).retry).toBe('backoff');
		expect(failure({ code: 1302 }).retry).toBe('backoff');
		expect(failure({ code: 1102 }).retry).toBe('never');
		expect(failure({ code: 1304 }).retry).toBe('never');
		expect(failure({ code: 1100 }).retry).toBe('never');
		expect(failure({ code: 1004 }, 401).retry).toBe('resign');
		expect(failure({ code: '5001' }, 503).retry).toBe('backoff');
		expect(failure({ code: 1201 }, 400).retry).toBe('never');
		expect(failure({ error: { message: 'bad gateway' } }, 502).retry).toBe('backoff');
		expect(failure({ code: null, message: '404' }, 200).kind).toBe('routeUnavailable');
		expect(failure('{"code": 0, "da' as never, 200).kind).toBe('malformed');
	});

	it("redacts the credential's own secrets and anything shaped like a bearer token, a signed token, a webhook secret or an sk- key that a provider quotes back", () => {
		const failureFor = (message: string, secrets: string[] = []) => {
			try {
				unwrapEnvelope(401, { code: 1002, message }, secrets);
			} catch (error) {
				return (error as KlingFailure).message;
			}
			throw new Error('no failure');
		};
		const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJhayJ9.c2lnbmF0dXJl';
		expect(failureFor('key sim-api-key is not valid', ['sim-api-key'])).toBe(
			'key [redacted] is not valid',
		);
		expect(failureFor('Authorization: Bearer 0123456789abcdefXYZ rejected')).toBe(
			'Authorization: Bearer [redacted] rejected',
		);
		expect(failureFor(`token ${jwt} expired`)).toBe('token [redacted token] expired');
		expect(failureFor('secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw= leaked')).toBe(
			'secret whsec_[redacted] leaked',
		);
		expect(failureFor('key sk-abcdefghijklmnopqrstuvwx invalid')).toBe('key sk-[redacted] invalid');
		// Ordinary text stays as it was.
		for (const message of [
			'Invalid Bearer token',
			'order-sk-20240101 and /sk-thumbnails-2024/',
			'apiKeyJson.value is wrong',
			'task 784512063975329862 at https://cdn.example.com/a.png',
		]) {
			expect(failureFor(message)).toBe(message);
		}
	});

	it('knows which failed creates may still have been billed', () => {
		expect(new KlingFailure('network', 'x').mayHaveBeenAccepted).toBe(true);
		expect(new KlingFailure('api', 'x', 5000).mayHaveBeenAccepted).toBe(true);
		expect(new KlingFailure('api', 'x', 1303).mayHaveBeenAccepted).toBe(false);
		expect(new KlingFailure('api', 'x', 1201).mayHaveBeenAccepted).toBe(false);
	});

	it('backs off exponentially with jitter, capped', () => {
		for (let attempt = 1; attempt <= 10; attempt++) {
			const delay = backoffDelay(attempt, 100);
			expect(delay).toBeGreaterThanOrEqual(Math.min(3000, 100 * 2 ** (attempt - 1)) / 2);
			expect(delay).toBeLessThanOrEqual(Math.min(3000, 100 * 2 ** (attempt - 1)));
		}
	});
});

describe('faults on create', () => {
	const healed: Array<[string, Fault]> = [
		['1302 rate limit', { on: 'create', kind: 'code', code: 1302, times: 2 }],
		['1303 concurrency limit', { on: 'create', kind: 'code', code: 1303, times: 3 }],
		['5000 internal error', { on: 'create', kind: 'code', code: 5000 }],
		['5001 maintenance', { on: 'create', kind: 'code', code: 5001 }],
		['5002 server timeout', { on: 'create', kind: 'code', code: 5002 }],
		['a dropped connection before the task was accepted', { on: 'create', kind: 'drop' }],
		['a dropped connection after the task was accepted', { on: 'create', kind: 'dropAfterAccept' }],
		['an answer slower than the request timeout', { on: 'create', kind: 'slow', delayMs: 2500 }],
		['malformed JSON', { on: 'create', kind: 'malformed' }],
		['an expired token (1004)', { on: 'create', kind: 'code', code: 1004 }],
		['a token not yet valid (1003)', { on: 'create', kind: 'code', code: 1003 }],
	];

	it.each(healed)(
		'survives %s: retried, one task billed, result delivered',
		async (_name, fault) => {
			const sim = simulator();
			sim.injectFault(fault);
			const result = await submitAndWait('accessKey', { requestTimeout: 1 });
			expect(result.error).toBeUndefined();
			expect(result.output(EXPAND_NODE)[0].json.task_status).toBe('succeed');
			expect(sim.acceptedCreates()).toBe(1);
			expect(sim.tasks.size).toBe(1);
		},
	);

	const final: Array<[string, Fault, RegExp, string]> = [
		[
			'1102 resource pack used up (HTTP 429)',
			{ on: 'create', kind: 'code', code: 1102 },
			/Kling error 1102: Resource pack is used up or expired/,
			'429',
		],
		[
			'1304 IP whitelist (HTTP 429)',
			{ on: 'create', kind: 'code', code: 1304 },
			/Kling error 1304: Refused by the IP whitelist policy/,
			'429',
		],
		[
			'1201 invalid parameters',
			{ on: 'create', kind: 'code', code: 1201, message: 'image is invalid' },
			/Kling error 1201: Invalid parameters \(image is invalid\)/,
			'400',
		],
		[
			'1301 content safety',
			{ on: 'create', kind: 'code', code: 1301 },
			/Kling error 1301: Refused by content safety/,
			'400',
		],
		[
			'1002 invalid authorization',
			{ on: 'create', kind: 'code', code: 1002 },
			/Kling error 1002: Authorization is invalid/,
			'401',
		],
	];

	it.each(final)('does not retry %s, and explains it', async (_name, fault, message, httpCode) => {
		const sim = simulator();
		sim.injectFault(fault);
		const result = await submitAndWait();
		expect(result.error).toMatchObject({
			name: 'NodeApiError',
			message: expect.stringMatching(message),
			httpCode,
		});
		expect(String(result.error!.description)).toMatch(/Request ID: /);
		expect(requestsOf(sim, 'create')).toHaveLength(1);
		expect(sim.acceptedCreates()).toBe(0);
	});

	it('re-signs only once: a second expired-token answer is an error', async () => {
		const sim = simulator();
		sim.injectFault({ on: 'create', kind: 'code', code: 1004, times: 2 });
		const result = await submitAndWait();
		expect(result.error).toMatchObject({
			name: 'NodeApiError',
			message: expect.stringMatching(/Kling error 1004: Token has expired/),
		});
		expect(requestsOf(sim, 'create')).toHaveLength(2);
	});

	it('explains CometAPI\'s {code: null, message: "404"} and points to Kling direct', async () => {
		const sim = simulator();
		sim.injectFault({ on: 'create', kind: 'cometNull404' });
		const result = await submitAndWait('cometapi');
		expect(result.error).toMatchObject({
			name: 'NodeApiError',
			message: expect.stringMatching(/CometAPI answered \{"code": null, "message": "404"\}/),
		});
		expect(String(result.error!.description)).toMatch(/Use the Kling \(Direct\) provider/);
		expect(requestsOf(sim, 'create')).toHaveLength(1);
	});

	it('gives up on a retryable fault that never heals, naming the external task id so nothing is lost', async () => {
		const sim = simulator();
		sim.injectFault({ on: 'create', kind: 'code', code: 5000, times: 100 });
		const result = await submitAndWait('accessKey', { retryDelay: 0.01 });
		expect(result.error).toMatchObject({
			name: 'NodeApiError',
			message: expect.stringMatching(/Kling error 5000/),
		});
		// Every answer was a 5000, which a provider may send after accepting: the id is named as possibly created, not as submitted.
		expect(String(result.error!.description)).toMatch(
			/may still have made a task under external_task_id n8n-/,
		);
		expect(String(result.error!.description)).not.toMatch(/Tasks already submitted/);
		expect(requestsOf(sim, 'create')).toHaveLength(10);
	});
});

describe('faults while waiting', () => {
	it.each<[string, Fault]>([
		['1302 on a query', { on: 'query', kind: 'code', code: 1302, times: 2 }],
		['5001 on a query', { on: 'query', kind: 'code', code: 5001, times: 2 }],
		['a dropped query', { on: 'query', kind: 'drop', times: 2 }],
		['a slow query', { on: 'query', kind: 'slow', delayMs: 1500 }],
		['malformed JSON on a query', { on: 'query', kind: 'malformed', times: 2 }],
	])('keeps waiting through %s', async (_name, fault) => {
		const sim = simulator();
		sim.injectFault(fault);
		const result = await submitAndWait('accessKey', { requestTimeout: 1 });
		expect(result.error).toBeUndefined();
		expect(result.output(EXPAND_NODE)[0].json.task_status).toBe('succeed');
		expect(sim.acceptedCreates()).toBe(1);
	});

	it('stops on a final error while waiting and names the task', async () => {
		const sim = simulator();
		sim.injectFault({ on: 'query', kind: 'code', code: 1002, times: 5 });
		const result = await submitAndWait();
		const [taskId] = [...sim.tasks.keys()];
		expect(result.error).toMatchObject({
			name: 'NodeApiError',
			message: expect.stringMatching(/Kling error 1002/),
		});
		expect(String(result.error!.description)).toContain(taskId);
	});
});
