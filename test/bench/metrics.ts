import type { SimulatorSnapshot } from './remoteSimulator';

/**
 * The best any client can do on `slots` concurrency slots, starting tasks in item order the moment a
 * slot frees and seeing each end at once. For N equal durations L this is ceil(N / slots) × L.
 */
export function floorMs(durationsMs: number[], slots: number): number {
	const freeAt = new Array<number>(Math.min(slots, durationsMs.length)).fill(0);
	let end = 0;
	for (const duration of durationsMs) {
		const slot = freeAt.indexOf(Math.min(...freeAt));
		freeAt[slot] += duration;
		end = Math.max(end, freeAt[slot]);
	}
	return end;
}

/** Nearest-rank percentile; NaN for no values. */
export function percentile(values: number[], p: number): number {
	if (values.length === 0) return NaN;
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * How detection is read from the simulator's request log (every request is stamped on arrival):
 * - `download`: the first GET of the task's result image. Both runners download the moment they see
 *   the task terminal, so this is when the result is in hand (a few ms after the check that saw it).
 * - `poll`: without downloads, the first query of that task or list request after completion. A list
 *   may have been sent for other tasks, so this is a lower bound on the lag.
 */
export type LagSource = 'download' | 'poll';

export interface TaskLag {
	lagMs: number;
	durationMs: number;
}

const EXPAND_PATH = /\/v1\/images\/editing\/expand(\/[^/?]+)?(\?.*)?$/;

export function detectionLags(snapshot: SimulatorSnapshot, source: LagSource): TaskLag[] {
	const lags: TaskLag[] = [];
	for (const task of snapshot.tasks) {
		if (task.completedAt === undefined) continue;
		const id = encodeURIComponent(task.task_id);
		const seen = snapshot.requests.find((request) => {
			if (request.at < task.completedAt! || request.method !== 'GET') return false;
			if (source === 'download') return request.path.startsWith(`/results/${id}/`);
			const match = EXPAND_PATH.exec(request.path);
			return !!match && (match[1] === undefined || match[1] === `/${id}`);
		});
		if (seen) lags.push({ lagMs: seen.at - task.completedAt, durationMs: task.durationMs });
	}
	return lags;
}

export interface LagSummary {
	source: LagSource;
	/** Tasks whose detection was found in the log. */
	count: number;
	p50Ms: number;
	p95Ms: number;
	/** Lag as a share of each task's own duration, in %. */
	p50Pct: number;
	p95Pct: number;
}

export function summariseLags(lags: TaskLag[], source: LagSource): LagSummary {
	const pct = lags.map((lag) => (100 * lag.lagMs) / lag.durationMs);
	const ms = lags.map((lag) => lag.lagMs);
	return {
		source,
		count: lags.length,
		p50Ms: percentile(ms, 50),
		p95Ms: percentile(ms, 95),
		p50Pct: percentile(pct, 50),
		p95Pct: percentile(pct, 95),
	};
}

/** API requests the provider counts against you: creates (1303-refused ones too), queries and lists. Downloads are not. */
export function apiRequests(snapshot: SimulatorSnapshot): number {
	const { creates, queries, lists } = snapshot.stats;
	return creates + queries + lists;
}
