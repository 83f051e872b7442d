import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

import type { SimulatorStats } from '../simulator';

export interface SimulatorSnapshot {
	stats: SimulatorStats;
	requests: Array<{ method: string; path: string; at: number }>;
	tasks: Array<{
		task_id: string;
		task_status: string;
		created_at: number;
		completedAt?: number;
		durationMs: number;
	}>;
	/** Every callback delivered, with the receiver's HTTP status (409: n8n found the execution running). */
	deliveries: Array<{ status: number | 'error'; taskStatus: string; at: number }>;
}

export type SimulatorRequest =
	| { id: number; op: 'reset'; durationsMs: number[]; fallbackMs: number }
	| { id: number; op: 'snapshot' }
	| { id: number; op: 'seed'; count: number }
	| { id: number; op: 'close' };

export interface SimulatorReply {
	id: number;
	result: SimulatorSnapshot | { url: string } | null;
}

type Pending = (result: SimulatorReply['result']) => void;
type Without<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/** The simulator running in a child process (simulatorProcess.ts), with the few calls the bench needs. */
export class RemoteSimulator {
	private nextId = 1;

	private readonly pending = new Map<number, Pending>();

	private constructor(
		private readonly child: ChildProcess,
		readonly url: string,
	) {
		child.on('message', (reply: SimulatorReply) => {
			this.pending.get(reply.id)?.(reply.result);
			this.pending.delete(reply.id);
		});
	}

	/**
	 * Forks the simulator with the account's concurrency limit and waits until it listens.
	 * `rendersAtNormalPriority`: results are rendered at normal priority (on a loaded machine, renders
	 * at the lowest one can lag the tasks' ends by seconds, which real Kling's never do).
	 */
	static async start(
		concurrencyLimit: number,
		{ rendersAtNormalPriority = false } = {},
	): Promise<RemoteSimulator> {
		const root = path.resolve(__dirname, '../..');
		const child = fork(
			path.join(__dirname, 'simulatorProcess.ts'),
			[JSON.stringify({ concurrencyLimit, rendersAtNormalPriority })],
			{
				cwd: root,
				execArgv: ['-r', require.resolve('ts-node/register/transpile-only')],
				stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
			},
		);
		const ready = await new Promise<SimulatorReply>((resolve, reject) => {
			child.once('message', resolve);
			child.once('exit', (code) =>
				reject(new Error(`The simulator process exited with code ${code} before listening`)),
			);
		});
		return new RemoteSimulator(child, (ready.result as { url: string }).url);
	}

	/** Clears tasks, requests and counters; the next accepted tasks take these durations in order. */
	async reset(durationsMs: number[], fallbackMs: number): Promise<void> {
		await this.call({ op: 'reset', durationsMs, fallbackMs });
	}

	/** Adds ended tasks of another workflow, newer than every task so far. */
	async seedUnrelatedTasks(count: number): Promise<void> {
		await this.call({ op: 'seed', count });
	}

	async snapshot(): Promise<SimulatorSnapshot> {
		return (await this.call({ op: 'snapshot' })) as SimulatorSnapshot;
	}

	async close(): Promise<void> {
		await this.call({ op: 'close' });
	}

	private call(request: Without<SimulatorRequest, 'id'>): Promise<SimulatorReply['result']> {
		const id = this.nextId++;
		return new Promise((resolve) => {
			this.pending.set(id, resolve);
			this.child.send({ ...request, id });
		});
	}
}
