import type { IBinaryData, IDataObject, IExecuteFunctions, INodeExecutionData, IWebhookFunctions } from 'n8n-workflow';

import { fetchBytes, MAX_DOWNLOAD_BYTES } from './transport/download';
import type { RequestPolicy } from './transport/request';
import { detectImageFormat, readImageHeader } from './imageHeader';
import type { KlingResultImage, KlingTask } from './task';

export interface DownloadedImage {
	index: number;
	url: string;
	width?: number;
	height?: number;
	binary: IBinaryData;
}

/**
 * Downloads every result image of a finished task as n8n binary data, named `<task_id>_<index>.<ext>`
 * with the MIME type read from the bytes (CDNs often say application/octet-stream).
 */
export async function downloadTaskImages(
	ctx: IExecuteFunctions | IWebhookFunctions,
	task: KlingTask,
	policy: RequestPolicy,
	maxBytes = MAX_DOWNLOAD_BYTES,
): Promise<DownloadedImage[]> {
	const images: KlingResultImage[] = task.task_result?.images ?? [];
	const downloaded: DownloadedImage[] = [];
	for (const image of images) {
		const { bytes, contentType } = await fetchBytes(ctx, image.url, { maxBytes, atLimit: 'fail', field: 'task_result.images.url', policy });
		const format = detectImageFormat(bytes);
		const mimeType = format === 'png' ? 'image/png' : format === 'jpeg' ? 'image/jpeg' : (contentType?.split(';')[0].trim() || 'application/octet-stream');
		const extension = format === 'jpeg' ? 'jpg' : (format ?? 'bin');
		const fileName = `${task.task_id}_${image.index}.${extension}`;
		let size: { width?: number; height?: number } = {};
		try {
			size = readImageHeader(bytes);
		} catch {
			// Not a PNG/JPEG header: still hand the bytes over, without dimensions.
		}
		const binary = await ctx.helpers.prepareBinaryData(bytes, fileName, mimeType);
		downloaded.push({ index: image.index, url: image.url, width: size.width, height: size.height, binary });
	}
	return downloaded;
}

export interface ImagesOutput {
	/** Binary field name; `oneItem` puts the images in `<field>_<index>`. */
	field: string;
	mode: 'itemPerImage' | 'oneItem';
	/** Larger downloads are refused: a result URL serving something huge is not an image we asked for. */
	maxBytes: number;
}

/** Reads the download options the node and the trigger share; an empty field name falls back to `data`. */
export function imagesOutputFrom(options: { binaryPropertyOutput?: string; imagesOutput?: string; maxDownloadSize?: number }): ImagesOutput {
	return {
		field: options.binaryPropertyOutput?.trim() || 'data',
		mode: options.imagesOutput === 'oneItem' ? 'oneItem' : 'itemPerImage',
		maxBytes: Math.round((options.maxDownloadSize ?? MAX_DOWNLOAD_BYTES / 1024 / 1024) * 1024 * 1024),
	};
}

/** Downloaded images as output items: one item per image, or all on the task's item. */
export function imagesToItems(json: IDataObject, images: DownloadedImage[], output: ImagesOutput): INodeExecutionData[] {
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
		return [{ json: { ...json, images: images.map(describe) }, binary: Object.fromEntries(images.map((image) => [`${output.field}_${image.index}`, image.binary])) }];
	}
	return images.map((image) => ({ json: { ...json, image: describe(image) }, binary: { [output.field]: image.binary } }));
}
