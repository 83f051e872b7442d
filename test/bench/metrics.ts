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

/**
 * What refilling a slot costs a client that creates only once it has seen a task end, read from the
 * simulator's log: `startMs`, the run's start until the first task was created (reading the inputs,
 * the first creates); `createPathMs`, the median time from the first check after a task's end to the
 * creation of the task that took its slot (the one created `slots` later): the create's upload and
 * the provider's accepting it, which no check schedule can shorten.
 */
export function refillTimes(
	snapshot: SimulatorSnapshot,
	slots: number,
	runStartedAt: number,
): { startMs: number; createPathMs: number } {
	const created = [...snapshot.tasks].sort((a, b) => a.created_at - b.created_at);
	const checks = snapshot.requests.filter(
		(request) => request.method === 'GET' && EXPAND_PATH.test(request.path),
	);
	const paths: number[] = [];
	for (let index = slots; index < created.length; index++) {
		const freed = created[index - slots].completedAt;
		const seen = freed === undefined ? undefined : checks.find((check) => check.at >= freed);
		if (seen) paths.push(created[index].created_at - seen.at);
	}
	return {
		startMs: created.length ? created[0].created_at - runStartedAt : NaN,
		createPathMs: percentile(paths, 50),
	};
}
