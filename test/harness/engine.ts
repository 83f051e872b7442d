import './env';

import path from 'node:path';

import { Logger } from '@n8n/backend-common';
import { Container } from '@n8n/di';
import { ExecutionLifecycleHooks, PackageDirectoryLoader, WorkflowExecute } from 'n8n-core';
import type {
	ICredentialDataDecryptedObject,
	ICredentialType,
	IConnections,
	IHttpRequestOptions,
	INode,
	INodeExecutionData,
	INodeType,
	INodeTypes,
	IRun,
	IRunExecutionData,
	IVersionedNodeType,
	IWebhookData,
	IWebhookDescription,
	IWorkflowExecuteAdditionalData,
	WorkflowExecuteMode,
} from 'n8n-workflow';
import { ICredentialsHelper, NodeHelpers, Workflow } from 'n8n-workflow';

import { WAIT_NODE_TYPE, WaitOnWebhookCall } from './waitNode';

export const PACKAGE_NAME = 'n8n-nodes-kling-expand';
export const NODE_TYPES = {
	expand: `${PACKAGE_NAME}.klingExpand`,
	trigger: `${PACKAGE_NAME}.klingExpandTrigger`,
} as const;

/** Every log line n8n or a node wrote, so tests can assert what users would see (and that no secret is in it). */
export const capturedLogs: string[] = [];

const captureLogger = {
	error: (message: string, meta?: object) =>
		capturedLogs.push(`error ${message} ${JSON.stringify(meta ?? {})}`),
	warn: (message: string, meta?: object) =>
		capturedLogs.push(`warn ${message} ${JSON.stringify(meta ?? {})}`),
	info: (message: string, meta?: object) =>
		capturedLogs.push(`info ${message} ${JSON.stringify(meta ?? {})}`),
	debug: (message: string, meta?: object) =>
		capturedLogs.push(`debug ${message} ${JSON.stringify(meta ?? {})}`),
	scoped() {
		return captureLogger;
	},
};
Container.set(Logger, captureLogger as unknown as Logger);

/**
 * The package as n8n loads a community package: from package.json's "n8n" section, compiled files under dist/;
 * plus the harness's stand-in for n8n's Wait node (waitNode.ts).
 */
export interface LoadedPackage {
	nodeTypes: INodeTypes;
	credentialTypes: Record<string, ICredentialType>;
}

let loaded: Promise<LoadedPackage> | undefined;

export function loadPackage(): Promise<LoadedPackage> {
	loaded ??= (async () => {
		const loader = new PackageDirectoryLoader(path.resolve(__dirname, '../..'));
		await loader.loadAll();
		const byName = (typeName: string) => {
			if (typeName === WAIT_NODE_TYPE) return new WaitOnWebhookCall();
			// n8n generates `<name>Tool` for a usableAsTool node, for AI agents: the node's own execute.
			const name = typeName.replace(/Tool$/, '');
			const entry =
				loader.nodeTypes[name] ?? loader.nodeTypes[name.replace(`${PACKAGE_NAME}.`, '')];
			if (!entry) throw new Error(`Unknown node type ${name}`);
			return entry.type;
		};
		const nodeTypes: INodeTypes = {
			getByName: (name: string) => byName(name),
			getByNameAndVersion: (name: string, version?: number) =>
				NodeHelpers.getVersionedNodeType(byName(name) as INodeType | IVersionedNodeType, version),
			getKnownTypes: () => ({}),
		};
		const credentialTypes = Object.fromEntries(
			Object.entries(loader.credentialTypes).map(([name, entry]) => [name, entry.type]),
		);
		return { nodeTypes, credentialTypes };
	})();
	return loaded;
}

/** Hands the test's credential data to nodes and signs requests with the credential's own `authenticate`. */
class TestCredentialsHelper extends ICredentialsHelper {
	constructor(
		private readonly credentialTypes: Record<string, ICredentialType>,
		private readonly data: Record<string, ICredentialDataDecryptedObject>,
	) {
		super();
	}

	getParentTypes() {
		return [];
	}

	isCredentialUsableByNode() {
		return true;
	}

	async runPreAuthentication() {
		return undefined;
	}

	async authenticate(
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
		requestOptions: IHttpRequestOptions,
	) {
		const authenticate = this.credentialTypes[typeName]?.authenticate;
		return typeof authenticate === 'function'
			? await authenticate(credentials, requestOptions)
			: requestOptions;
	}

	async preAuthentication() {
		return undefined;
	}

	async getCredentials(): Promise<never> {
		throw new Error('not used in tests');
	}

	async getDecrypted(_additionalData: unknown, _nodeCredentials: unknown, type: string) {
		const data = this.data[type];
		if (!data) throw new Error(`No test credentials of type ${type}`);
		return data;
	}

	async updateCredentials() {}

	async updateCredentialsOauthTokenData() {}

	getCredentialsProperties() {
		return [];
	}
}

export interface WorkflowSpec {
	nodes: INode[];
	connections: IConnections;
}

export interface RunOptions {
	/** Credential data by type, e.g. { klingApi: {...} }. */
	credentials?: Record<string, ICredentialDataDecryptedObject>;
	/** The node that starts the run and the items it receives. */
	startNode: string;
	input: INodeExecutionData[];
	mode?: WorkflowExecuteMode;
	/** Reuse a Workflow (its static data lives there), e.g. across trigger deliveries. */
	workflow?: Workflow;
	signal?: AbortSignal;
	/** Continue a stored execution (e.g. one that was put to wait) instead of starting from `startNode`. */
	resume?: IRunExecutionData;
	executionId?: string;
	/** Where `$execution.resumeUrl` points: a harness server standing in for n8n's waiting-webhook endpoint. */
	webhookWaitingBaseUrl?: string;
}

export interface RunResult {
	run: IRun;
	/** Items on a node's first output (or the given one) in its last run. */
	output(nodeName: string, outputIndex?: number): INodeExecutionData[];
	/** The run's error as n8n stores it (a plain object: name, message, description, httpCode). */
	error: Record<string, unknown> | undefined;
}

export function buildAdditionalData(
	credentialTypes: Record<string, ICredentialType>,
	credentials: Record<string, ICredentialDataDecryptedObject>,
	hooks: ExecutionLifecycleHooks,
	extra: Partial<IWorkflowExecuteAdditionalData> = {},
): IWorkflowExecuteAdditionalData {
	const unused = async () => {
		throw new Error('not available in the test harness');
	};
	return {
		credentialsHelper: new TestCredentialsHelper(credentialTypes, credentials),
		executeWorkflow: unused,
		getRunExecutionData: async () => undefined,
		getRuntimeCredential: async () => undefined,
		executionId: extra.executionId ?? String(Date.now()),
		currentNodeExecutionIndex: 0,
		restApiUrl: 'http://127.0.0.1/rest',
		instanceBaseUrl: 'http://127.0.0.1/',
		formBaseUrl: 'http://127.0.0.1/form',
		formWaitingBaseUrl: 'http://127.0.0.1/form-waiting',
		formTestBaseUrl: 'http://127.0.0.1/form-test',
		webhookBaseUrl: 'http://127.0.0.1/webhook',
		webhookWaitingBaseUrl: 'http://127.0.0.1/webhook-waiting',
		webhookTestBaseUrl: 'http://127.0.0.1/webhook-test',
		mcpBaseUrl: 'http://127.0.0.1/mcp',
		mcpTestBaseUrl: 'http://127.0.0.1/mcp-test',
		variables: {},
		logAiEvent: () => {},
		startRunnerTask: unused,
		hooks,
		...extra,
	} as IWorkflowExecuteAdditionalData;
}

/**
 * What n8n hands a node's webhook() about the webhook it serves: one POST webhook of the node, its
 * path evaluated when a workflow is given (as n8n's webhook service does).
 */
export function webhookDataFor(
	workflowId: string,
	nodeName: string,
	description: IWebhookDescription,
	additionalData: IWorkflowExecuteAdditionalData,
	workflow?: Workflow,
): IWebhookData {
	return {
		httpMethod: 'POST',
		node: nodeName,
		path: workflow ? webhookPathOf(workflow, nodeName, description) : String(description.path),
		webhookDescription: description,
		workflowId,
		workflowExecuteAdditionalData: additionalData,
	};
}

export async function makeWorkflow(spec: WorkflowSpec): Promise<Workflow> {
	const { nodeTypes } = await loadPackage();
	return new Workflow({
		id: 'test-workflow',
		name: 'test',
		nodes: spec.nodes,
		connections: spec.connections,
		nodeTypes,
		active: false,
		staticData: {},
	});
}

/** Runs a workflow in n8n-core's WorkflowExecute, in-process, exactly as n8n runs one, from `startNode` with `input`. */
let executionCount = 0;
/** Unique in this process, as n8n's database ids are: the node derives external_task_ids from it. */
const nextExecutionId = () => `${Date.now()}${String(++executionCount).padStart(4, '0')}`;

export async function runWorkflow(spec: WorkflowSpec, options: RunOptions): Promise<RunResult> {
	const { credentialTypes } = await loadPackage();
	const workflow = options.workflow ?? (await makeWorkflow(spec));
	const mode = options.mode ?? 'manual';
	const hooks = new ExecutionLifecycleHooks(mode, '1', {
		id: workflow.id,
		name: 'test',
		nodes: spec.nodes,
		connections: spec.connections,
		active: false,
		isArchived: false,
		activeVersionId: null,
		createdAt: new Date(),
		updatedAt: new Date(),
	} as never);
	let resolveFinished: (run: IRun) => void = () => {};
	const finished = new Promise<IRun>((resolve) => (resolveFinished = resolve));
	hooks.addHandler('workflowExecuteAfter', (fullRunData) => resolveFinished(fullRunData));
	const additionalData = buildAdditionalData(credentialTypes, options.credentials ?? {}, hooks, {
		executionId: options.executionId ?? nextExecutionId(),
		...(options.webhookWaitingBaseUrl
			? { webhookWaitingBaseUrl: options.webhookWaitingBaseUrl }
			: {}),
	});
	const startNode = workflow.getNode(options.startNode);
	if (!startNode) throw new Error(`No node named ${options.startNode}`);
	const runExecutionData: IRunExecutionData =
		options.resume ??
		({
			version: 1,
			startData: {},
			resultData: { runData: {} },
			executionData: {
				contextData: {},
				metadata: {},
				waitingExecution: {},
				waitingExecutionSource: null,
				nodeExecutionStack: [{ node: startNode, data: { main: [options.input] }, source: null }],
			},
		} as unknown as IRunExecutionData);
	const execution = new WorkflowExecute(
		additionalData,
		mode,
		runExecutionData,
	).processRunExecutionData(workflow);
	options.signal?.addEventListener('abort', () => execution.cancel(), { once: true });
	await execution;
	const run = await finished;
	const runData = run.data.resultData.runData;
	return {
		run,
		output: (nodeName, outputIndex = 0) =>
			runData[nodeName]?.at(-1)?.data?.main?.[outputIndex] ?? [],
		error: run.data.resultData.error as unknown as Record<string, unknown> | undefined,
	};
}

/**
 * A webhook's path as n8n's webhook service computes it for a restart webhook: the description's
 * path expression evaluated for the node, without leading or trailing slashes.
 */
export function webhookPathOf(
	workflow: Workflow,
	nodeName: string,
	description: IWebhookDescription,
): string {
	const node = workflow.getNode(nodeName)!;
	const value = workflow.expression.getSimpleParameterValue(node, description.path, 'webhook', {});
	return String(value ?? '').replace(/^\/+|\/+$/g, '');
}
