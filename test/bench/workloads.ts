import type { INodeExecutionData } from 'n8n-workflow';

import { binaryItem } from '../harness/workflows';
import { makeTestImage } from '../simulator';
import { createSeededRandom } from '../simulator/random';
import type { Workload } from './runners';
import { scaledMs, TASK_MS } from './scale';

const N = 20;

/** Durations equivalent to 5 s … 60 s, the range the request and lag targets cover. */
export const SWEEP_REAL_SECONDS = [5, 10, 20, 30, 45, 60];

/** A 600×400 PNG: small, so the timing workloads measure waiting, not uploading. */
export const smallImage = (): Promise<Buffer> =>
	makeTestImage({ width: 600, height: 400, format: 'png', seed: 7 });

/** A noisy 1760×1760 PNG of about 8 MB (noise makes it incompressible). */
export const largeImage = (): Promise<Buffer> =>
	makeTestImage({ width: 1760, height: 1760, format: 'png', seed: 8, noise: 255 });

/** Each item gets its own base64 copy, as n8n's in-memory binary mode holds one per item. */
export const itemsOf = (image: Buffer, count: number): INodeExecutionData[] =>
	Array.from({ length: count }, (_, index) => binaryItem(image, `photo-${index}.png`));

export function batchWorkload(image: Buffer, concurrency?: number, label = ''): Workload {
	const name =
		`${concurrency ? `Batch, node concurrency ${concurrency}` : 'Batch'} ${label}`.trim();
	return {
		name,
		items: itemsOf(image, N),
		durationsMs: new Array<number>(N).fill(TASK_MS),
		downloadImages: true,
		concurrency,
	};
}

/** Durations drawn uniformly between L/2 and 4L from a fixed seed, so every run sees the same sequence. */
export function mixedWorkload(image: Buffer, seed = 42): Workload {
	const random = createSeededRandom(seed);
	const durationsMs = Array.from({ length: N }, () =>
		Math.round(TASK_MS / 2 + random() * (4 * TASK_MS - TASK_MS / 2)),
	);
	return {
		name: 'Mixed durations L/2–4L',
		items: itemsOf(image, N),
		durationsMs,
		downloadImages: true,
	};
}

export function sweepWorkload(image: Buffer, realSeconds: number, count: number): Workload {
	return {
		name: `Sweep ${realSeconds} s, ${count} item${count === 1 ? '' : 's'}`,
		items: itemsOf(image, count),
		durationsMs: new Array<number>(count).fill(scaledMs(realSeconds)),
		downloadImages: true,
	};
}

/** No downloads: n8n keeps every output image in memory, which would measure n8n's output, not the node's buffering. */
export function largeWorkload(items: INodeExecutionData[], label: string): Workload {
	return {
		name: `Large 8 MB inputs ${label}`,
		items,
		durationsMs: new Array<number>(items.length).fill(TASK_MS),
		downloadImages: false,
	};
}
