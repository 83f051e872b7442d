import { redactSecrets, redactUrl } from '../../../nodes/shared/errors';
import { normaliseTask } from '../../../nodes/shared/task';

describe('normaliseTask', () => {
	it('reads the legacy shape, keeping final_balance_deduction and watermark_url', () => {
		expect(
			normaliseTask({
				task_id: '1',
				task_status: 'succeed',
				task_info: { external_task_id: 'e-1' },
				final_unit_deduction: '8',
				final_balance_deduction: '0.16',
				task_result: {
					images: [{ index: 0, url: 'https://cdn/a.png', watermark_url: 'https://cdn/a-w.png' }],
				},
			}),
		).toEqual({
			task_id: '1',
			task_status: 'succeed',
			external_task_id: 'e-1',
			task_info: { external_task_id: 'e-1' },
			final_unit_deduction: '8',
			final_balance_deduction: '0.16',
			task_result: {
				images: [{ index: 0, url: 'https://cdn/a.png', watermark_url: 'https://cdn/a-w.png' }],
			},
		});
	});

	it('reads the newer shape into the same names: succeeded = succeed, outputs = task_result.images, external_id, billing passed through', () => {
		expect(
			normaliseTask({
				id: '2',
				status: 'succeeded',
				status_msg: '',
				external_id: 'e-2',
				outputs: [
					{ url: 'https://cdn/b.png', watermark_url: 'https://cdn/b-w.png' },
					'https://cdn/c.png',
				],
				billing: { units: 16, balance: '0.32' },
				created_at: 5,
			}),
		).toEqual({
			task_id: '2',
			task_status: 'succeed',
			external_task_id: 'e-2',
			task_info: { external_task_id: 'e-2' },
			created_at: 5,
			billing: { units: 16, balance: '0.32' },
			task_result: {
				images: [
					{ index: 0, url: 'https://cdn/b.png', watermark_url: 'https://cdn/b-w.png' },
					{ index: 1, url: 'https://cdn/c.png' },
				],
			},
		});
	});

	it.each([
		{ id: '3', status: 'unknown-status' },
		{ status: 'succeeded' },
		{ id: '', status: 'failed' },
		null,
		'text',
		[],
		{ task_id: '4' },
	])('is not a task: %j', (raw) => {
		expect(normaliseTask(raw)).toBeUndefined();
	});

	it('never copies prototype keys, functions or non-finite numbers', () => {
		const raw = JSON.parse(
			'{"id":"5","status":"processing","__proto__":{"x":1},"constructor":{"y":1},"nested":{"prototype":{"z":1},"ok":[1,{"__proto__":{"w":1},"v":2}]}}',
		) as Record<string, unknown>;
		raw.fn = () => 1;
		raw.nan = Number.NaN;
		expect(normaliseTask(raw)).toEqual({
			task_id: '5',
			task_status: 'processing',
			nested: { ok: [1, { v: 2 }] },
		});
		expect(({} as Record<string, unknown>).x).toBeUndefined();
	});
});

describe('redactUrl', () => {
	it.each([
		[
			'https://user:pass@cdn.example.com/a/b.png?X-Amz-Signature=abc#frag',
			'https://cdn.example.com/a/b.png',
		],
		['http://127.0.0.1:8080/results/1/0.png?token=t', 'http://127.0.0.1:8080/results/1/0.png'],
		['https://cdn.example.com/plain.png', 'https://cdn.example.com/plain.png'],
		['not a url?secret=1', 'not a url'],
	])('%s → %s', (url, shown) => expect(redactUrl(url)).toBe(shown));

	it('redacts every URL inside a message, keeping the punctuation around it', () => {
		expect(
			redactSecrets('Redirect to https://a:b@x.example/login?s=1, then (http://y.example/p?q=2).'),
		).toBe('Redirect to https://x.example/login, then (http://y.example/p).');
	});
});
