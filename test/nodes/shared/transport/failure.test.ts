import type { INode } from 'n8n-workflow';
import { NodeApiError } from 'n8n-workflow';

import type { FailureKind } from '../../../../nodes/shared/transport/failure';
import { KlingFailure, toNodeApiError } from '../../../../nodes/shared/transport/failure';

const node: INode = {
	id: 'node-1',
	name: 'Kling Expand',
	type: 'n8n-nodes-kling-expand.klingExpand',
	typeVersion: 1,
	position: [0, 0],
	parameters: {},
};

describe('KlingFailure', () => {
	describe('retry', () => {
		it.each<[FailureKind, number | undefined, number | undefined, string]>([
			['network', undefined, undefined, 'backoff'],
			['malformed', undefined, 200, 'backoff'],
			['api', 1302, 429, 'backoff'],
			['api', 1303, 429, 'backoff'],
			['api', 5000, 500, 'backoff'],
			['api', 1004, 401, 'resign'],
			['api', 1003, 401, 'resign'],
			['api', 1002, 401, 'never'],
			['api', 1201, 400, 'never'],
			['api', 9999, 500, 'never'],
			['http', undefined, 429, 'backoff'],
			['http', undefined, 503, 'backoff'],
			['http', undefined, 400, 'never'],
			['http', undefined, undefined, 'never'],
			['unreachable', undefined, undefined, 'never'],
			['redirect', undefined, 302, 'never'],
			['credential', undefined, undefined, 'never'],
			['routeUnavailable', undefined, 404, 'never'],
		])('is decided for kind %s, code %s, HTTP %s as %s', (kind, code, httpStatus, retry) => {
			expect(new KlingFailure(kind, 'message', code, httpStatus).retry).toBe(retry);
		});

		it("follows Kling's code, not HTTP 429: an account in arrears (1101 as 429) is never retried", () => {
			expect(new KlingFailure('api', 'arrears', 1101, 429).retry).toBe('never');
			expect(new KlingFailure('api', 'ip whitelist', 1304, 429).retry).toBe('never');
		});

		it('falls back to the HTTP status for an api failure without a code', () => {
			expect(new KlingFailure('api', 'busy', undefined, 502).retry).toBe('backoff');
			expect(new KlingFailure('api', 'bad', undefined, 400).retry).toBe('never');
		});
	});

	describe('mayHaveBeenAccepted', () => {
		it.each<[FailureKind, number | undefined, number | undefined, boolean]>([
			['network', undefined, undefined, true],
			['malformed', undefined, 200, true],
			['api', 5000, 500, true],
			['api', 5000, 200, false],
			['api', 5001, 200, false],
			['api', 5002, 504, true],
			['http', undefined, 502, true],
			['api', 1302, 429, false],
			['api', 1303, 429, false],
			['api', 1004, 401, false],
			['api', 1201, 400, false],
			['http', undefined, 400, false],
			['unreachable', undefined, undefined, false],
			['redirect', undefined, 302, false],
			['credential', undefined, undefined, false],
			['routeUnavailable', undefined, 404, false],
		])('is %s for kind %s, code %s, HTTP %s: %s', (kind, code, httpStatus, accepted) => {
			expect(new KlingFailure(kind, 'message', code, httpStatus).mayHaveBeenAccepted).toBe(
				accepted,
			);
		});
	});

	it('redacts a secret the provider quoted back in its message', () => {
		const failure = new KlingFailure('api', 'bad header Bearer abcdefghijklmnopqrstuvwxyz', 1002);
		expect(failure.message).not.toContain('abcdefghijklmnopqrstuvwxyz');
		expect(failure.message).toContain('Bearer [redacted]');
	});
});

describe('toNodeApiError', () => {
	it("heads with Kling's code, what it means and the provider's own words", () => {
		const error = toNodeApiError(
			node,
			new KlingFailure('api', 'image is not safe', 1301, 400, 'req-7'),
		);
		expect(error).toBeInstanceOf(NodeApiError);
		expect(error.message).toBe('Kling error 1301: Refused by content safety (image is not safe)');
	});

	it('leaves the brackets out when the provider gave no words', () => {
		const error = toNodeApiError(node, new KlingFailure('api', '', 1101, 429));
		expect(error.message).toBe('Kling error 1101: Account is in arrears');
	});

	it("describes the code's remedy, then the request id", () => {
		const error = toNodeApiError(node, new KlingFailure('api', 'x', 1101, 429, 'req-42'));
		expect(error.description).toBe('Top up the account in the Kling console. Request ID: req-42.');
	});

	it('prefers the remedy set on the failure over the code’s, and redacts it', () => {
		const failure = new KlingFailure('api', 'x', 1101, 429);
		failure.remedy = 'Try the key sk-abcdefghijklmnopqrstuvwxyz0123 elsewhere.';
		const error = toNodeApiError(node, failure);
		expect(error.description).toBe('Try the key sk-[redacted] elsewhere.');
	});

	it('adds the sentence naming the submitted tasks, and the item index', () => {
		const error = toNodeApiError(node, new KlingFailure('api', 'x', 1302, 429, 'req-1'), {
			itemIndex: 3,
			submitted:
				'Tasks already submitted: t-1 (external_task_id e-1) (use Get Task to fetch them).',
		});
		expect(error.description).toBe(
			'Lower the concurrency or spread the requests out. Request ID: req-1. ' +
				'Tasks already submitted: t-1 (external_task_id e-1) (use Get Task to fetch them).',
		);
		expect(error.context.itemIndex).toBe(3);
	});

	it('names an unconfirmed task and says to look it up before submitting again', () => {
		const failure = new KlingFailure('network', 'socket hang up');
		failure.unconfirmedTask = 'n8n-9-ab-0-0';
		const error = toNodeApiError(node, failure);
		expect(error.description).toBe(
			'A create whose answer was lost may still have made a task under external_task_id ' +
				'n8n-9-ab-0-0: look it up with Get Task (Find By: External Task ID) before submitting again.',
		);
	});

	it('carries the HTTP status as httpCode, and none when there was no answer', () => {
		expect(toNodeApiError(node, new KlingFailure('api', 'x', 5000, 500)).httpCode).toBe('500');
		expect(toNodeApiError(node, new KlingFailure('network', 'reset')).httpCode).toBeNull();
	});

	it('uses the failure’s message as the headline when there is no code, with no empty remedy', () => {
		const error = toNodeApiError(
			node,
			new KlingFailure('http', 'HTTP 418 from the API', undefined, 418),
		);
		expect(error.message).toBe('HTTP 418 from the API');
		expect(error.description ?? '').toBe('');
	});

	it('explains the CometAPI route that its gateway does not serve, and the way out', () => {
		const error = toNodeApiError(
			node,
			new KlingFailure('routeUnavailable', '404', undefined, 404, 'req-c'),
		);
		expect(error.message).toBe(
			'CometAPI answered {"code": null, "message": "404"}: its gateway does not serve the ' +
				'Kling expand route for this key',
		);
		expect(error.description).toBe(
			'Use the Kling (Direct) provider in the credential, or a base URL override that serves ' +
				'/kling/v1/images/editing/expand. Request ID: req-c.',
		);
	});

	it('keeps a message that holds ECONNREFUSED instead of n8n’s generic text', () => {
		const message = 'Cannot reach 127.0.0.1:9 (connect ECONNREFUSED 127.0.0.1:9)';
		const error = toNodeApiError(node, new KlingFailure('unreachable', message));
		expect(error.message).toBe(message);
	});
});
