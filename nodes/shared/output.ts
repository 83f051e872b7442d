import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	IWebhookFunctions,
} from 'n8n-workflow';

import { billedResultError, withListedImages } from './billedResult';
import { DOWNLOAD_DEFAULTS, withDefaults } from './descriptions';
import type { KlingTask } from './task';
import type { DownloadedImage } from './transport/download';
import { downloadTaskImages, readTaskImageSizes } from './transport/download';
import type { RequestPolicy } from './transport/retry';

/**
 * Whether this run is an AI agent's tool call: the one test, for the output's shape and callback
 * mode's fallback to polling. n8n runs a `usableAsTool` node for an agent as the type it generates
 * for it, `<package>.<name>Tool`, either as an ordinary node of that type (an agent that hands the
 * call to the engine) or on an ai_tool connection, where `isToolExecution()` says so.
 */
export function isToolCall(ctx: IExecuteFunctions | IWebhookFunctions): boolean {
	return (
		ctx.getNode().type.endsWith('Tool') ||
		('isToolExecution' in ctx && ctx.isToolExecution?.() === true)
	);
}

/**
 * A task's output items, for every caller (Get Task, Submit and Wait, the resume webhook, the
 * trigger): the task alone unless its images are wanted and it succeeded; in a workflow the images
 * downloaded as binary data; as an agent's tool one JSON item describing them (URL, size, type),
 * since a model gets only JSON and n8n drops or refuses a tool's binary data.
 *
 * A succeeded task is billed, so a failure to get its images is a BilledResultError naming it. A
 * task that lists no images yet is read again (withListedImages) unless `rereadTask` is false (the
 * trigger, which may hold no credential to read with). The policy's deadline bounds all of it.
 */
export async function taskOutputItems(
	ctx: IExecuteFunctions | IWebhookFunctions,
	json: IDataObject,
	task: KlingTask,
	request: {
		download: boolean;
		options: IDataObject;
		policy: RequestPolicy;
		followRedirects?: boolean;
		rereadTask?: boolean;
	},
): Promise<INodeExecutionData[]> {
	if (!request.download || task.task_status !== 'succeed') return [{ json }];
	try {
		const listed =
			request.rereadTask === false ? task : await withListedImages(ctx, task, request.policy);
		const shown = listed === task ? json : { ...json, task_result: listed.task_result };
		if (isToolCall(ctx))
			return [
				{ json: { ...shown, images: await readTaskImageSizes(ctx, listed, request.policy) } },
			];
		const output = imagesOutputFrom(request.options);
		const images = await downloadTaskImages(
			ctx,
			listed,
			request.policy,
			output.maxBytes,
			request.followRedirects,
		);
		return imagesToItems(shown as IDataObject, images, output);
	} catch (error) {
		throw billedResultError(task, error, request.policy);
	}
}

export interface ImagesOutput {
	/** Binary field name; `oneItem` puts the images in `<field>_<index>`. */
	field: string;
	mode: 'itemPerImage' | 'oneItem';
	/**
	 * Larger downloads are refused: a result URL serving something huge is not an image we asked for.
	 */
	maxBytes: number;
}

/**
 * Reads the download options the node and the trigger share; an empty field name falls back to
 * `data`.
 */
export function imagesOutputFrom(options: {
	binaryPropertyOutput?: string;
	imagesOutput?: string;
	maxDownloadSize?: number;
}): ImagesOutput {
	const chosen = withDefaults(DOWNLOAD_DEFAULTS, options);
	return {
		field: chosen.binaryPropertyOutput.trim() || DOWNLOAD_DEFAULTS.binaryPropertyOutput,
		mode: chosen.imagesOutput === 'oneItem' ? 'oneItem' : 'itemPerImage',
		maxBytes: Math.round(chosen.maxDownloadSize * 1024 * 1024),
	};
}

/** Downloaded images as output items: one item per image, or all on the task's item. */
export function imagesToItems(
	json: IDataObject,
	images: DownloadedImage[],
	output: ImagesOutput,
): INodeExecutionData[] {
	// A finished task with no image still gets its item: its task_id must not vanish.
	if (images.length === 0) return [{ json }];
	const describe = (image: DownloadedImage) => ({
		index: image.index,
		url: image.url,
		width: image.width,
		height: image.height,
		file_name: image.binary.fileName,
		mime_type: image.binary.mimeType,
	});
	if (output.mode === 'oneItem') {
		return [
			{
				json: { ...json, images: images.map(describe) },
				binary: Object.fromEntries(
					images.map((image) => [`${output.field}_${image.index}`, image.binary]),
				),
			},
		];
	}
	return images.map((image) => ({
		json: { ...json, image: describe(image) },
		binary: { [output.field]: image.binary },
	}));
}
