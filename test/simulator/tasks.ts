import { randomInt } from 'node:crypto';
import { canvasLayout, queueExpansion } from './expand';
import type { ExpandRequest } from './validation';
import type { ApiSurface, KlingTaskData, SimTask } from './types';

/** Outpainting costs 8 units per image. */
const UNITS_PER_IMAGE = 8;

export interface TaskBoardHooks {
	durationFor(task: SimTask): number;
	resultUrl(taskId: string, index: number, watermarked: boolean): string;
	statusChanged(task: SimTask, callbackUrl: string | undefined): void;
}

interface TaskRuntime {
	callbackUrl?: string;
	failMessage?: string;
	/** Started at accept time; the terminal move does not wait for it, downloads do. */
	render?: Promise<Buffer>;
	renderError?: string;
}

/** Tasks of the one simulated account, their timers and rendered results. */
export class TaskBoard {
	readonly tasks = new Map<string, SimTask>();
	private runtimes = new Map<string, TaskRuntime>();
	private timers = new Set<NodeJS.Timeout>();
	private sequence = 0;

	constructor(private readonly hooks: TaskBoardHooks) {}

	/** Sum of n over tasks not yet terminal: Kling's concurrency measure. */
	heldSlots(): number {
		let slots = 0;
		for (const task of this.tasks.values()) if (!isTerminal(task)) slots += task.n;
		return slots;
	}

	/** Kling's query path takes either the task_id or the caller's external_task_id. */
	find(id: string): SimTask | undefined {
		const byTaskId = this.tasks.get(id);
		if (byTaskId || !id) return byTaskId;
		for (const task of this.tasks.values()) if (task.task_info.external_task_id === id) return task;
		return undefined;
	}

	findByExternalId(externalTaskId: string): SimTask | undefined {
		if (!externalTaskId) return undefined;
		for (const task of this.tasks.values())
			if (task.task_info.external_task_id === externalTaskId) return task;
		return undefined;
	}

	isExternalIdTaken(externalTaskId: string): boolean {
		if (externalTaskId === '') return false;
		for (const task of this.tasks.values())
			if (task.task_info.external_task_id === externalTaskId) return true;
		return false;
	}

	newestFirst(): SimTask[] {
		return [...this.tasks.values()].reverse();
	}

	accept(
		request: ExpandRequest,
		createBody: Record<string, unknown>,
		via: ApiSurface,
		failMessage?: string,
	): SimTask {
		const now = Date.now();
		const layout = canvasLayout(request.sourceSize, request.ratios);
		const task: SimTask = {
			task_id: this.nextTaskId(now),
			task_status: 'submitted',
			task_status_msg: '',
			task_info: { external_task_id: request.externalTaskId },
			final_unit_deduction: '0',
			watermark_info: { enabled: request.watermark },
			created_at: now,
			updated_at: now,
			createBody,
			via,
			downRatioField: request.downRatioField,
			n: request.n,
			sourceSize: request.sourceSize,
			resultImageSize: { width: layout.width, height: layout.height },
		};
		const runtime: TaskRuntime = { callbackUrl: request.callbackUrl, failMessage };
		if (failMessage === undefined) {
			runtime.render = queueExpansion(request.image, request.sourceSize, request.ratios);
			runtime.render.catch((error: Error) => (runtime.renderError = error.message));
		}
		this.tasks.set(task.task_id, task);
		this.runtimes.set(task.task_id, runtime);

		const duration = Math.max(0, this.hooks.durationFor(task));
		this.later(duration / 2, () => this.startProcessing(task));
		this.later(duration, () => this.finish(task));
		this.hooks.statusChanged(task, runtime.callbackUrl);
		return task;
	}

	/**
	 * `count` tasks of some other workflow on the account, already ended (they hold no slot) and newer than
	 * every task so far: they push earlier tasks down the list pages. Their results cannot be downloaded.
	 */
	seedEnded(count: number): void {
		const now = Date.now();
		for (let index = 0; index < count; index++) {
			const task: SimTask = {
				task_id: this.nextTaskId(now),
				task_status: 'succeed',
				task_status_msg: '',
				task_info: { external_task_id: `unrelated-${now}-${index}` },
				final_unit_deduction: '8',
				watermark_info: { enabled: false },
				created_at: now,
				updated_at: now,
				completedAt: now,
				createBody: {},
				via: 'kling',
				downRatioField: 'down_expansion_ratio',
				n: 1,
				sourceSize: { width: 0, height: 0 },
				resultImageSize: { width: 0, height: 0 },
			};
			this.tasks.set(task.task_id, task);
		}
	}

	/** The PNG behind a result URL, or undefined when there is no such image (yet). */
	resultImage(taskId: string, index: number, watermarked: boolean): Promise<Buffer> | undefined {
		const task = this.tasks.get(taskId);
		if (
			task?.task_status !== 'succeed' ||
			index >= task.n ||
			(watermarked && !task.watermark_info.enabled)
		) {
			return undefined;
		}
		// The watermarked copy is the same picture: nothing downstream inspects the mark.
		return this.runtimes.get(taskId)?.render;
	}

	clear(): void {
		for (const timer of this.timers) clearTimeout(timer);
		this.timers.clear();
		this.tasks.clear();
		this.runtimes.clear();
	}

	/**
	 * Timers of different lengths can fire out of order after a blocked event loop, so each step
	 * checks where the task stands: processing never follows a terminal status, and is never skipped.
	 */
	private startProcessing(task: SimTask): void {
		if (task.task_status === 'submitted') this.move(task, 'processing');
	}

	private finish(task: SimTask): void {
		this.startProcessing(task);
		const runtime = this.runtimes.get(task.task_id);
		const failure = runtime?.failMessage ?? runtime?.renderError;
		if (failure !== undefined) {
			task.task_status_msg = failure;
			this.move(task, 'failed');
			return;
		}
		task.final_unit_deduction = String(UNITS_PER_IMAGE * task.n);
		task.task_result = {
			images: Array.from({ length: task.n }, (_, index) => ({
				index,
				url: this.hooks.resultUrl(task.task_id, index, false),
				...(task.watermark_info.enabled && {
					watermark_url: this.hooks.resultUrl(task.task_id, index, true),
				}),
			})),
		};
		this.move(task, 'succeed');
	}

	private move(task: SimTask, status: SimTask['task_status']): void {
		task.task_status = status;
		task.updated_at = Date.now();
		if (isTerminal(task)) task.completedAt = task.updated_at;
		this.hooks.statusChanged(task, this.runtimes.get(task.task_id)?.callbackUrl);
	}

	private later(delayMs: number, action: () => void): void {
		const timer = setTimeout(() => {
			this.timers.delete(timer);
			action();
		}, delayMs);
		this.timers.add(timer);
	}

	/** Numeric like Kling's ids, unique within the run. */
	private nextTaskId(now: number): string {
		return `${now}${String(++this.sequence).padStart(4, '0')}${randomInt(1000, 10000)}`;
	}
}

export function isTerminal(task: KlingTaskData): boolean {
	return task.task_status === 'succeed' || task.task_status === 'failed';
}

/** The public `data` object: the fields Kling returns, nothing the simulator keeps for tests. */
export function publicTaskData(task: SimTask): KlingTaskData {
	const data: KlingTaskData = {
		task_id: task.task_id,
		task_status: task.task_status,
		task_status_msg: task.task_status_msg,
		task_info: { ...task.task_info },
		final_unit_deduction: task.final_unit_deduction,
		watermark_info: { ...task.watermark_info },
		created_at: task.created_at,
		updated_at: task.updated_at,
	};
	if (task.task_result)
		data.task_result = { images: task.task_result.images.map((image) => ({ ...image })) };
	return data;
}
