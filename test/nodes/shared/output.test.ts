import type { IBinaryData, IWebhookFunctions } from 'n8n-workflow';

import { DOWNLOAD_DEFAULTS } from '../../../nodes/shared/descriptions';
import {
	imagesOutputFrom,
	imagesToItems,
	isToolCall,
	taskOutputItems,
} from '../../../nodes/shared/output';
import type { KlingTask } from '../../../nodes/shared/task';
import type { DownloadedImage } from '../../../nodes/shared/transport/download';
import { fakeContext } from '../../harness/context';

const policy = { attempts: 1, retryDelayMs: 0, timeoutMs: 1000 };

/** A context with only getNode; anything else it is asked for fails the test (no request made). */
const contextOfType = (type: string) => fakeContext({ node: { type } });

const binary = (fileName: string): IBinaryData => ({
	data: 'iVBORw0KGgo=',
	mimeType: 'image/png',
	fileName,
});

const image = (index: number): DownloadedImage => ({
	index,
	url: `https://cdn.example/t-1_${index}.png`,
	width: 800,
	height: 600,
	binary: binary(`t-1_${index}.png`),
});

const succeeded: KlingTask = {
	task_id: 't-1',
	task_status: 'succeed',
	task_result: { images: [{ index: 0, url: 'https://cdn.example/t-1_0.png' }] },
};

describe('isToolCall', () => {
	it('is true for the type n8n generates for an AI agent tool (<package>.<name>Tool)', () => {
		expect(isToolCall(contextOfType('n8n-nodes-kling-expand.klingExpandTool'))).toBe(true);
	});

	it('is true for a call on an ai_tool connection, which isToolExecution() reports', () => {
		expect(
			isToolCall(fakeContext({ node: { type: 'n8n-nodes-kling-expand.klingExpand' }, tool: true })),
		).toBe(true);
	});

	it('is false for the node in a workflow, and for the trigger', () => {
		expect(isToolCall(contextOfType('n8n-nodes-kling-expand.klingExpand'))).toBe(false);
		expect(
			isToolCall(
				contextOfType('n8n-nodes-kling-expand.klingExpandTrigger') as unknown as IWebhookFunctions,
			),
		).toBe(false);
	});
});

describe('imagesOutputFrom', () => {
	it('takes its defaults from the option fields: data, one item per image, 50 MB', () => {
		expect(DOWNLOAD_DEFAULTS).toEqual({
			binaryPropertyOutput: 'data',
			imagesOutput: 'itemPerImage',
			maxDownloadSize: 50,
		});
		expect(imagesOutputFrom({})).toEqual({
			field: 'data',
			mode: 'itemPerImage',
			maxBytes: 50 * 1024 * 1024,
		});
	});

	it('uses the chosen field name, trimmed', () => {
		expect(imagesOutputFrom({ binaryPropertyOutput: '  picture ' }).field).toBe('picture');
	});

	it('falls back to data when the field name is empty or blank', () => {
		expect(imagesOutputFrom({ binaryPropertyOutput: '' }).field).toBe('data');
		expect(imagesOutputFrom({ binaryPropertyOutput: '   ' }).field).toBe('data');
	});

	it('puts all images on one item only when oneItem is chosen; anything else is one per image', () => {
		expect(imagesOutputFrom({ imagesOutput: 'oneItem' }).mode).toBe('oneItem');
		expect(imagesOutputFrom({ imagesOutput: 'itemPerImage' }).mode).toBe('itemPerImage');
		expect(imagesOutputFrom({ imagesOutput: 'somethingElse' }).mode).toBe('itemPerImage');
	});

	it('turns the size in MB into bytes, rounded', () => {
		expect(imagesOutputFrom({ maxDownloadSize: 2 }).maxBytes).toBe(2_097_152);
		expect(imagesOutputFrom({ maxDownloadSize: 0.001 }).maxBytes).toBe(1049);
	});
});

describe('imagesToItems', () => {
	const json = { task_id: 't-1', task_status: 'succeed' };

	it('makes one item per image, each with the task, its image and the binary in the field', () => {
		const items = imagesToItems(json, [image(0), image(1)], {
			field: 'out',
			mode: 'itemPerImage',
			maxBytes: 1,
		});
		expect(items).toEqual([
			{
				json: {
					...json,
					image: {
						index: 0,
						url: 'https://cdn.example/t-1_0.png',
						width: 800,
						height: 600,
						file_name: 't-1_0.png',
						mime_type: 'image/png',
					},
				},
				binary: { out: binary('t-1_0.png') },
			},
			{
				json: {
					...json,
					image: {
						index: 1,
						url: 'https://cdn.example/t-1_1.png',
						width: 800,
						height: 600,
						file_name: 't-1_1.png',
						mime_type: 'image/png',
					},
				},
				binary: { out: binary('t-1_1.png') },
			},
		]);
	});

	it('puts all images on the task’s one item, in <field>_<index>, described in an images list', () => {
		const items = imagesToItems(json, [image(0), image(2)], {
			field: 'data',
			mode: 'oneItem',
			maxBytes: 1,
		});
		expect(items).toHaveLength(1);
		expect(Object.keys(items[0].binary!)).toEqual(['data_0', 'data_2']);
		expect(items[0].binary!.data_2).toEqual(binary('t-1_2.png'));
		expect(items[0].json).toEqual({
			...json,
			images: [
				expect.objectContaining({ index: 0, file_name: 't-1_0.png' }),
				expect.objectContaining({ index: 2, file_name: 't-1_2.png' }),
			],
		});
	});

	it('keeps the task’s item, without binary, when the task has no image', () => {
		for (const mode of ['itemPerImage', 'oneItem'] as const) {
			expect(imagesToItems(json, [], { field: 'data', mode, maxBytes: 1 })).toEqual([{ json }]);
		}
	});
});

describe('taskOutputItems', () => {
	const json = { task_id: 't-1' };

	it('returns the task alone, asking the context for nothing, when download is off', async () => {
		const ctx = contextOfType('n8n-nodes-kling-expand.klingExpand');
		await expect(
			taskOutputItems(ctx, json, succeeded, { download: false, options: {}, policy }),
		).resolves.toEqual([{ json }]);
	});

	it('returns the task alone, downloading nothing, when it did not succeed', async () => {
		const ctx = contextOfType('n8n-nodes-kling-expand.klingExpand');
		for (const task_status of ['failed', 'processing', 'submitted'] as const) {
			await expect(
				taskOutputItems(
					ctx,
					json,
					{ ...succeeded, task_status },
					{ download: true, options: {}, policy },
				),
			).resolves.toEqual([{ json }]);
		}
	});

	it('goes on to fetch the images when download is on and the task succeeded', async () => {
		// The same context refuses everything but getNode: reaching for a request proves the branch.
		const ctx = contextOfType('n8n-nodes-kling-expand.klingExpand');
		await expect(
			taskOutputItems(ctx, json, succeeded, { download: true, options: {}, policy }),
		).rejects.toThrow(/the context was asked for/);
	});
});
