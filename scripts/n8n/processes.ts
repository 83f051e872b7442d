import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';

export interface RunResult {
	code: number;
	/** The signal that ended the command, if one did. */
	signal: NodeJS.Signals | null;
	output: string;
	ms: number;
}

export interface RunOptions {
	cwd?: string;
	env?: NodeJS.ProcessEnv;
	/** Kill the command (by PID) after this long. */
	timeoutMs?: number;
	/** Also write everything the command prints to this file. */
	logFile?: string;
}

/** Runs a command to completion, stdout and stderr interleaved as printed. Never throws on a non-zero exit. */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
	const started = Date.now();
	return new Promise((resolvePromise, reject) => {
		const child = spawn(command, args, {
			cwd: options.cwd,
			env: options.env ?? process.env,
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		const log = options.logFile ? openLog(options.logFile) : undefined;
		const chunks: Buffer[] = [];
		const collect = (chunk: Buffer) => {
			chunks.push(chunk);
			log?.write(chunk);
		};
		child.stdout.on('data', collect);
		child.stderr.on('data', collect);
		const timer = options.timeoutMs
			? setTimeout(() => child.pid && killTree(child.pid, 'SIGKILL'), options.timeoutMs)
			: undefined;
		child.on('error', reject);
		child.on('close', (code, signal) => {
			if (timer) clearTimeout(timer);
			log?.end();
			resolvePromise({
				code: code ?? (signal ? 128 : 1),
				signal,
				output: Buffer.concat(chunks).toString('utf8'),
				ms: Date.now() - started,
			});
		});
	});
}

/** Like run, but a non-zero exit is an error that quotes the end of the output. */
export async function runOrThrow(
	command: string,
	args: string[],
	options: RunOptions = {},
): Promise<RunResult> {
	const result = await run(command, args, options);
	if (result.code !== 0) {
		throw new Error(
			`${command} ${args.join(' ')} exited with ${result.code}:\n${tail(result.output, 40)}`,
		);
	}
	return result;
}

/** A process we started and must stop: its own process group, output to a log file. */
export class Background {
	readonly exited: Promise<number>;
	private done = false;

	private constructor(
		readonly name: string,
		readonly child: ChildProcess,
		readonly logFile: string,
	) {
		this.exited = new Promise((resolvePromise) =>
			child.on('exit', (code, signal) => {
				this.done = true;
				resolvePromise(code ?? (signal ? 128 : 1));
			}),
		);
	}

	static start(
		name: string,
		command: string,
		args: string[],
		options: { cwd?: string; env?: NodeJS.ProcessEnv; logFile: string },
	): Background {
		const log = openLog(options.logFile);
		// detached: a process group of its own, so stop() reaches its children (n8n's task runner) by the group id.
		const child = spawn(command, args, {
			cwd: options.cwd,
			env: options.env ?? process.env,
			stdio: ['ignore', 'pipe', 'pipe'],
			detached: true,
		});
		child.stdout?.pipe(log, { end: false });
		child.stderr?.pipe(log, { end: false });
		child.on('exit', () => setTimeout(() => log.end(), 100));
		return new Background(name, child, options.logFile);
	}

	get pid(): number {
		return this.child.pid ?? -1;
	}

	get running(): boolean {
		return !this.done;
	}

	/** kill -9 of the process group: no shutdown, nothing flushed, as when a machine or container dies. */
	async kill(): Promise<void> {
		if (this.done || this.pid < 0) return;
		killTree(this.pid, 'SIGKILL');
		await this.exited;
	}

	/** SIGTERM to the process group, SIGKILL if it has not exited after `graceMs`. */
	async stop(graceMs = 10_000): Promise<void> {
		if (this.done || this.pid < 0) return;
		killTree(this.pid, 'SIGTERM');
		const timer = setTimeout(() => killTree(this.pid, 'SIGKILL'), graceMs);
		await this.exited;
		clearTimeout(timer);
	}
}

/** Signals the process group led by `pid` (we start every background process as a group leader). */
function killTree(pid: number, signal: NodeJS.Signals): void {
	try {
		process.kill(-pid, signal);
	} catch {
		try {
			process.kill(pid, signal);
		} catch {
			// Already gone.
		}
	}
}

function openLog(file: string) {
	mkdirSync(dirname(file), { recursive: true });
	return createWriteStream(file, { flags: 'a' });
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
	return new Promise((resolvePromise, reject) => {
		const server = createServer();
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const address = server.address();
			const port = typeof address === 'object' && address ? address.port : 0;
			server.close(() => resolvePromise(port));
		});
	});
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs` naming `what`. */
export async function waitFor<T>(
	what: string,
	check: () => Promise<T | undefined>,
	timeoutMs: number,
	intervalMs = 250,
): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	let lastError: unknown;
	while (Date.now() < deadline) {
		try {
			const value = await check();
			if (value !== undefined) return value;
		} catch (error) {
			lastError = error;
		}
		await sleep(intervalMs);
	}
	const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
	throw new Error(`Timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${reason}`);
}

export const sleep = (ms: number) =>
	new Promise<void>((resolvePromise) => setTimeout(resolvePromise, ms));

export function tail(text: string, lines: number): string {
	return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export function seconds(ms: number): string {
	return `${(ms / 1000).toFixed(1)} s`;
}
