/**
 * The simulator in its own process, so the bench process's RSS and event loop are the n8n side's alone
 * (the simulator keeps every create body and renders results with sharp). Driven over IPC by remoteSimulator.ts.
 */
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

import sharp from 'sharp';

import { startSimulator } from '../simulator';
import type { SimTask } from '../simulator';
import type { SimulatorReply, SimulatorRequest, SimulatorSnapshot } from './remoteSimulator';

const LOWEST_PRIORITY = 19;

/**
 * The simulator renders every result with sharp, work the real Kling does on its own servers. On a
 * 2-core machine those renders would take CPU from the process being measured and from the
 * simulator's own answers, so every thread but the main one (libuv's pool, where sharp renders, and
 * libvips' own) is kept at the lowest priority: renders use idle CPU only.
 */
function yieldRenderingCpu(): void {
	sharp.concurrency(1);
	const renice = () => {
		for (const thread of readdirSync('/proc/self/task')) {
			if (Number(thread) === process.pid) continue;
			try {
				setPriority(Number(thread), LOWEST_PRIORITY);
			} catch {
				// Gone already, or not permitted: that render then competes at normal priority.
			}
		}
	};
	try {
		renice();
		setInterval(renice, 200).unref();
	} catch {
		// No /proc (not Linux): figures are then a little more pessimistic, nothing else changes.
	}
}

async function main(): Promise<void> {
	const { concurrencyLimit, rendersAtNormalPriority } = JSON.parse(process.argv[2] ?? '{}') as {
		concurrencyLimit?: number;
		rendersAtNormalPriority?: boolean;
	};
	if (!rendersAtNormalPriority) yieldRenderingCpu();
	// Durations are handed out in acceptance order, so the node and the baseline meet the same sequence.
	let durations: number[] = [];
	let fallbackMs = 300;
	let acceptedSoFar = 0;
	const durationById = new Map<string, number>();
	const durationFor = (task: SimTask) => {
		const duration = durations[acceptedSoFar++] ?? fallbackMs;
		durationById.set(task.task_id, duration);
		return duration;
	};
	const simulator = await startSimulator({ concurrencyLimit, taskDurationMs: durationFor });

	const snapshot = (): SimulatorSnapshot => ({
		stats: simulator.stats(),
		requests: simulator.requests.map(({ method, path, at }) => ({ method, path, at })),
		tasks: [...simulator.tasks.values()].map((task) => ({
			task_id: task.task_id,
			task_status: task.task_status,
			created_at: task.created_at,
			completedAt: task.completedAt,
			durationMs: durationById.get(task.task_id) ?? fallbackMs,
		})),
		deliveries: simulator.callbackDeliveries.map(({ status, body, at }) => ({
			status,
			taskStatus: body.task_status,
			at,
		})),
	});

	process.on('message', async (message: SimulatorRequest) => {
		const reply = (result: SimulatorReply['result']) =>
			process.send?.({ id: message.id, result } satisfies SimulatorReply);
		switch (message.op) {
			case 'reset':
				simulator.reset();
				durationById.clear();
				durations = message.durationsMs;
				fallbackMs = message.fallbackMs;
				acceptedSoFar = 0;
				return reply(null);
			case 'snapshot':
				return reply(snapshot());
			case 'seed':
				simulator.seedUnrelatedTasks(message.count);
				return reply(null);
			case 'close':
				await simulator.close();
				reply(null);
				return process.exit(0);
		}
	});
	process.send?.({ id: 0, result: { url: simulator.url } } satisfies SimulatorReply);
}

void main();
