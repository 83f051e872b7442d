import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import type { RequestPolicy } from './transport/request';
import { fetchBytes } from './transport/download';
import { downloadTaskImages, imagesOutputFrom, imagesToItems } from './output';
import { readImageHeader } from './imageHeader';
import { HEADER_BYTES } from '../KlingExpand/actions/imageInput';
import type { KlingTask } from './task';

/** n8n runs a `usableAsTool` node for an AI Agent as the type it generates for it: `<package>.<name>Tool`. */
export function isToolCall(ctx: IExecuteFunctions): boolean {
	return ctx.getNode().type.endsWith('Tool');
}

/**
 * A finished task's output items. In a workflow: the result images downloaded as binary data. As an agent's
 * tool: one JSON item describing them (URL, size, type), since a model gets only JSON, and n8n drops or
 * refuses a tool's binary data; only each image's header is read, for its size.
 */
export async function taskResultItems(ctx: IExecuteFunctions, json: IDataObject, task: KlingTask, policy: RequestPolicy, options: IDataObject): Promise<INodeExecutionData[]> {
	if (isToolCall(ctx)) return [{ json: { ...json, images: await describeTaskImages(ctx, task, policy) } }];
	const output = imagesOutputFrom(options);
	return imagesToItems(json, await downloadTaskImages(ctx, task, policy, output.maxBytes), output);
}

async function describeTaskImages(ctx: IExecuteFunctions, task: KlingTask, policy: RequestPolicy): Promise<IDataObject[]> {
	const described: IDataObject[] = [];
	for (const image of task.task_result?.images ?? []) {
		const head = await fetchBytes(ctx, image.url, { maxBytes: HEADER_BYTES, atLimit: 'truncate', field: 'task_result.images.url', policy });
		let size: IDataObject = {};
		try {
			const info = readImageHeader(head.bytes);
			size = { width: info.width, height: info.height, mime_type: info.mimeType };
		} catch {
			// A header past the first bytes or not PNG/JPEG: the URL is still the result.
		}
		described.push({ index: image.index, url: image.url, ...size });
	}
	return described;
}
