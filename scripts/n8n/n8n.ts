import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Runtime } from './install';
import { Background, freePort, run, tail, waitFor, type RunResult } from './processes';
import { RestClient } from './rest';

/** A workflow as `n8n import:workflow` reads it. */
export interface WorkflowFile {
	id: string;
	name: string;
	nodes: WorkflowNode[];
	connections: Record<string, unknown>;
	settings?: Record<string, unknown>;
	pinData?: Record<string, unknown>;
	active?: boolean;
}

export interface WorkflowNode {
	id: string;
	name: string;
	type: string;
	typeVersion: number;
	position: [number, number];
	parameters: Record<string, unknown>;
	credentials?: Record<string, { id: string; name: string }>;
	disabled?: boolean;
	webhookId?: string;
	onError?: string;
}

/** A credential as `n8n import:credentials` reads it: `data` in plain text is encrypted on import. */
export interface CredentialFile {
	id: string;
	name: string;
	type: string;
	data: Record<string, unknown>;
}

export interface NodeItem {
	json: Record<string, unknown>;
	binary?: Record<string, { fileName?: string; mimeType?: string; bytes?: number; id?: string }>;
}

/** What `n8n execute --id` reported: the run data it prints, or the error it failed with. */
export interface ExecuteOutcome {
	ok: boolean;
	/** The CLI's exit code (and signal): non-zero with a successful run means n8n failed on the way out. */
	exit: { code: number; signal: NodeJS.Signals | null };
	ms: number;
	output: string;
	runData: Record<string, { data?: { main?: (NodeItem[] | null)[] }; error?: unknown }[]>;
	error?: { message: string; description?: string; node?: string };
}

/**
 * Switches that keep n8n on 127.0.0.1 and quiet: no telemetry, version checks, templates, banners,
 * AI features or MCP registry refresh (each would call n8n's servers).
 */
const QUIET_ENV = {
	N8N_DIAGNOSTICS_ENABLED: 'false',
	N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
	N8N_VERSION_NOTIFICATIONS_WHATS_NEW_ENABLED: 'false',
	N8N_PERSONALIZATION_ENABLED: 'false',
	N8N_TEMPLATES_ENABLED: 'false',
	N8N_DYNAMIC_BANNERS_ENABLED: 'false',
	N8N_HIRING_BANNER_ENABLED: 'false',
	N8N_AI_ENABLED: 'false',
	N8N_DISABLED_MODULES: 'mcp-registry',
	// Community packages: load ours from <user folder>/.n8n/nodes; never ask n8n's API for the vetted list.
	N8N_COMMUNITY_PACKAGES_ENABLED: 'true',
	N8N_UNVERIFIED_PACKAGES_ENABLED: 'true',
	N8N_VERIFIED_PACKAGES_ENABLED: 'false',
	N8N_LISTEN_ADDRESS: '127.0.0.1',
	N8N_HOST: '127.0.0.1',
	N8N_RUNNERS_BROKER_LISTEN_ADDRESS: '127.0.0.1',
	N8N_RUNNERS_TASK_TIMEOUT: '300',
	// Plain http on loopback: the session cookie must not demand https.
	N8N_SECURE_COOKIE: 'false',
	N8N_LOG_LEVEL: 'info',
	GENERIC_TIMEZONE: 'UTC',
};

/** One n8n installation (the cached CLI) with one user folder: its SQLite database, settings and community packages. */
export class N8n {
	private commandCount = 0;

	constructor(
		readonly runtime: Runtime,
		readonly userFolder: string,
		readonly logDir: string,
		/** Extra environment for every n8n process, e.g. N8N_RESTRICT_FILE_ACCESS_TO. */
		readonly extraEnv: Record<string, string> = {},
	) {
		mkdirSync(logDir, { recursive: true });
	}

	env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
		return {
			...this.runtime.env,
			...QUIET_ENV,
			N8N_USER_FOLDER: this.userFolder,
			...this.extraEnv,
			...extra,
		};
	}

	/** Runs one CLI command; each gets its own task-runner broker port, so commands may overlap a running server. */
	async cli(args: string[], timeoutMs = 5 * 60_000): Promise<RunResult> {
		const label = `${String(++this.commandCount).padStart(2, '0')}-${args[0].replace(/[^a-z0-9]+/gi, '-')}`;
		const env = this.env({ N8N_RUNNERS_BROKER_PORT: String(await freePort()) });
		return await run(this.runtime.node, [this.runtime.n8n, ...args], {
			env,
			timeoutMs,
			logFile: join(this.logDir, `${label}.log`),
		});
	}

	async importCredentials(credentials: CredentialFile[]): Promise<void> {
		const file = join(this.logDir, 'credentials.json');
		writeFileSync(file, JSON.stringify(credentials, null, 2));
		await this.cliOrThrow(['import:credentials', `--input=${file}`]);
	}

	async importWorkflows(workflows: WorkflowFile[]): Promise<void> {
		const file = join(this.logDir, 'workflows.json');
		writeFileSync(file, JSON.stringify(workflows, null, 2));
		await this.cliOrThrow(['import:workflow', `--input=${file}`]);
	}

	/** n8n 2.x "publishes" a workflow version; a published workflow's triggers listen once `n8n start` runs. */
	async publish(workflowId: string): Promise<void> {
		await this.cliOrThrow(['publish:workflow', `--id=${workflowId}`]);
	}

	/** `n8n execute --id`: the CLI prints the run as JSON, after a few log lines, whether it succeeded or failed. */
	async execute(workflowId: string): Promise<ExecuteOutcome> {
		const result = await this.cli(['execute', `--id=${workflowId}`, '--rawOutput']);
		const runJson = extractRunJson(result.output) as
			| {
					data?: {
						resultData?: {
							runData?: ExecuteOutcome['runData'];
							error?: { message?: string; description?: string; node?: { name?: string } };
						};
					};
			  }
			| undefined;
		const resultData = runJson?.data?.resultData;
		if (!resultData) {
			throw new Error(
				`n8n execute --id=${workflowId} printed no run data (exit ${result.code}):\n${tail(result.output, 30)}`,
			);
		}
		const error = resultData.error;
		return {
			ok: result.code === 0 && !error,
			exit: { code: result.code, signal: result.signal },
			ms: result.ms,
			output: result.output,
			runData: resultData.runData ?? {},
			error: error
				? {
						message: String(error.message ?? ''),
						description: error.description ?? undefined,
						node: error.node?.name,
					}
				: undefined,
		};
	}

	/**
	 * Starts `n8n start` on 127.0.0.1 (at `port`, else a free one) and waits until it is ready. `env` is for variants
	 * such as queue mode (EXECUTIONS_MODE=queue, QUEUE_BULL_REDIS_*), whose workers come from startWorker().
	 */
	async start(options: { port?: number; env?: Record<string, string> } = {}): Promise<N8nServer> {
		const port = options.port ?? (await freePort());
		const url = `http://127.0.0.1:${port}`;
		const env = this.env({
			N8N_PORT: String(port),
			N8N_WEBHOOK_URL: `${url}/`,
			N8N_EDITOR_BASE_URL: `${url}/`,
			N8N_RUNNERS_BROKER_PORT: String(await freePort()),
			...options.env,
		});
		const child = Background.start('n8n start', this.runtime.node, [this.runtime.n8n, 'start'], {
			env,
			logFile: join(this.logDir, 'n8n-start.log'),
		});
		const server = new N8nServer(url, child);
		await server.waitUntilReady();
		return server;
	}

	/** `n8n worker` for queue mode, with its own broker and health ports. */
	async startWorker(name: string, extraEnv: Record<string, string> = {}): Promise<Background> {
		const env = this.env({
			N8N_RUNNERS_BROKER_PORT: String(await freePort()),
			QUEUE_HEALTH_CHECK_PORT: String(await freePort()),
			...extraEnv,
		});
		return Background.start(name, this.runtime.node, [this.runtime.n8n, 'worker'], {
			env,
			logFile: join(this.logDir, `${name}.log`),
		});
	}

	private async cliOrThrow(args: string[]): Promise<RunResult> {
		const result = await this.cli(args);
		if (result.code !== 0)
			throw new Error(
				`n8n ${args.join(' ')} exited with ${result.code}:\n${tail(result.output, 30)}`,
			);
		return result;
	}
}

/** A running `n8n start`: its URL, its REST API, and the process to stop. */
export class N8nServer {
	readonly rest: RestClient;

	constructor(
		readonly url: string,
		readonly process: Background,
	) {
		this.rest = new RestClient(url);
	}

	/** The production URL of a trigger node's webhook: `<base>/webhook/<webhookId>/<path>`. */
	webhookUrl(webhookId: string, path: string): string {
		return `${this.url}/webhook/${webhookId}/${path}`;
	}

	async waitUntilReady(timeoutMs = 120_000): Promise<void> {
		await waitFor(
			`n8n start to answer ${this.url}/healthz/readiness (log: ${this.process.logFile})`,
			async () => {
				if (!this.process.running) throw new Error(`n8n start exited; see ${this.process.logFile}`);
				const response = await fetch(`${this.url}/healthz/readiness`).catch(() => undefined);
				return response?.status === 200 ? true : undefined;
			},
			timeoutMs,
			500,
		);
	}

	async stop(): Promise<void> {
		await this.process.stop();
	}
}

/** The JSON document in CLI output: from the first line that is `{` to the last line that is `}`. */
export function extractRunJson(output: string): unknown {
	const lines = output.split('\n').map((line) => line.replace(/\r$/, ''));
	const start = lines.indexOf('{');
	if (start < 0) return undefined;
	for (let end = lines.length - 1; end > start; end--) {
		if (lines[end] !== '}') continue;
		try {
			return JSON.parse(lines.slice(start, end + 1).join('\n'));
		} catch {
			// A `}` that closes something else: try the previous one.
		}
	}
	return undefined;
}

/** The items a node put on one of its outputs in its first run. */
export function nodeItems(
	outcome: Pick<ExecuteOutcome, 'runData'>,
	nodeName: string,
	output = 0,
): NodeItem[] {
	const runs = outcome.runData[nodeName];
	if (!runs?.length) throw new Error(`node "${nodeName}" did not run`);
	return runs[0].data?.main?.[output] ?? [];
}
