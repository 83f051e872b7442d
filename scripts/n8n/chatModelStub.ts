import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

/**
 * A tiny OpenAI-compatible chat model on 127.0.0.1 (`POST <url>/v1/chat/completions`) for n8n's OpenAI Chat
 * Model node, acting out one tool-using turn:
 * 1. asked without a tool result, it calls the Kling tool it was offered, with the image URL and the aspect
 *    ratio it reads in the user's message, as arguments named after the tool's schema;
 * 2. sent the tool's result, it answers with a sentence built from that result: task id, URL and size.
 * Anything else (no Kling tool, a schema without those arguments, a result it cannot read) is answered with
 * an HTTP 400 whose message says so, which fails the agent's run.
 */
export interface ChatModelStub {
	url: string;
	/** Every request body, in order. */
	requests: ChatRequest[];
	/** Why the stub answered 400, for the check's error message. */
	refusals: string[];
	close(): Promise<void>;
}

export interface ChatRequest {
	model?: string;
	stream?: boolean;
	messages: { role: string; content?: unknown; tool_calls?: unknown[]; tool_call_id?: string }[];
	tools?: {
		type: string;
		function: {
			name: string;
			description?: string;
			parameters?: { properties?: Record<string, unknown> };
		};
	}[];
}

/** The `$fromAI()` keys the agent workflow's Kling Expand tool declares. */
export const TOOL_ARGUMENTS = { imageUrl: 'image_url', aspectRatio: 'aspect_ratio' } as const;

export async function startChatModelStub(): Promise<ChatModelStub> {
	const requests: ChatRequest[] = [];
	const refusals: string[] = [];
	const server = createServer((request, response) => {
		void handle(request, response, requests, refusals);
	});
	await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
	const address = server.address();
	const port = typeof address === 'object' && address ? address.port : 0;
	return {
		url: `http://127.0.0.1:${port}`,
		requests,
		refusals,
		close: () => new Promise<void>((done) => server.close(() => done())),
	};
}

async function handle(
	request: IncomingMessage,
	response: ServerResponse,
	requests: ChatRequest[],
	refusals: string[],
): Promise<void> {
	const refuse = (status: number, message: string) => {
		refusals.push(message);
		reply(response, status, {
			error: { message: `chat model stub: ${message}`, type: 'invalid_request_error' },
		});
	};
	const chunks: Buffer[] = [];
	for await (const chunk of request) chunks.push(chunk as Buffer);
	if (request.method !== 'POST' || !request.url?.endsWith('/chat/completions'))
		return refuse(
			404,
			`the stub serves only POST /v1/chat/completions, not ${request.method} ${request.url}`,
		);
	let body: ChatRequest;
	try {
		body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequest;
	} catch {
		return refuse(400, 'the request body is not JSON');
	}
	requests.push(body);
	const turn = nextTurn(body);
	if ('error' in turn) return refuse(400, turn.error);
	if (body.stream) return stream(response, body, turn);
	const message = turn.toolCall
		? { role: 'assistant', content: null, tool_calls: [turn.toolCall] }
		: { role: 'assistant', content: turn.text };
	reply(response, 200, {
		id: `chatcmpl-stub-${requests.length}`,
		object: 'chat.completion',
		created: Math.floor(Date.now() / 1000),
		model: body.model ?? 'stub',
		choices: [
			{ index: 0, message, logprobs: null, finish_reason: turn.toolCall ? 'tool_calls' : 'stop' },
		],
		usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
	});
}

type ToolCall = { id: string; type: 'function'; function: { name: string; arguments: string } };
type Turn =
	| { toolCall: ToolCall; text?: undefined }
	| { toolCall?: undefined; text: string }
	| { error: string };

function nextTurn(body: ChatRequest): Turn {
	const toolResult = [...body.messages].reverse().find((message) => message.role === 'tool');
	if (toolResult) return answerFrom(textOf(toolResult.content));

	const tool = body.tools?.find((candidate) => /kling/i.test(candidate.function.name));
	if (!tool)
		return {
			error: `no Kling tool was offered (tools: ${body.tools?.map((candidate) => candidate.function.name).join(', ') || 'none'})`,
		};
	const properties = Object.keys(tool.function.parameters?.properties ?? {});
	const missing = Object.values(TOOL_ARGUMENTS).filter((name) => !properties.includes(name));
	if (missing.length)
		return {
			error: `the ${tool.function.name} tool's schema lacks ${missing.join(', ')} (it has ${properties.join(', ') || 'nothing'})`,
		};
	const userText = body.messages
		.filter((message) => message.role === 'user')
		.map((message) => textOf(message.content))
		.join('\n');
	const imageUrl = /https?:\/\/[^\s"'<>)]+/.exec(userText)?.[0].replace(/[.,;:]+$/, '');
	const aspectRatio = /\b\d+:\d+\b/.exec(userText.replace(/https?:\/\/\S+/g, ''))?.[0];
	if (!imageUrl || !aspectRatio)
		return { error: `the user's message names no image URL or aspect ratio: "${userText}"` };
	const args = { [TOOL_ARGUMENTS.imageUrl]: imageUrl, [TOOL_ARGUMENTS.aspectRatio]: aspectRatio };
	return {
		toolCall: {
			id: 'call_kling_expand_1',
			type: 'function',
			function: { name: tool.function.name, arguments: JSON.stringify(args) },
		},
	};
}

/** The final answer, from the tool's JSON result only: what a model can tell from it. */
function answerFrom(content: string): Turn {
	let result: unknown;
	try {
		result = JSON.parse(content);
	} catch {
		return { error: `the tool result is not JSON: ${content.slice(0, 300)}` };
	}
	const item = (Array.isArray(result) ? result[0] : result) as
		| { task_id?: string; images?: { url?: string; width?: number; height?: number }[] }
		| undefined;
	const image = item?.images?.[0];
	if (!item?.task_id || !image?.url || !image.width || !image.height)
		return {
			error: `the tool result has no task_id or no image url and size: ${content.slice(0, 500)}`,
		};
	return {
		text: `Done: Kling task ${item.task_id} expanded your photo to ${image.width}×${image.height} px. Result: ${image.url}`,
	};
}

function textOf(content: unknown): string {
	if (typeof content === 'string') return content;
	if (Array.isArray(content))
		return content
			.map((part) =>
				typeof part === 'string' ? part : String((part as { text?: unknown }).text ?? ''),
			)
			.join('');
	return '';
}

/** The same turn as server-sent events, for a client that asks for a stream. */
function stream(
	response: ServerResponse,
	body: ChatRequest,
	turn: Exclude<Turn, { error: string }>,
): void {
	response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
	const chunk = (delta: object, finish: string | null) =>
		response.write(
			`data: ${JSON.stringify({ id: 'chatcmpl-stub', object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: body.model ?? 'stub', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`,
		);
	if (turn.toolCall)
		chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, ...turn.toolCall }] }, null);
	else chunk({ role: 'assistant', content: turn.text }, null);
	chunk({}, turn.toolCall ? 'tool_calls' : 'stop');
	response.end('data: [DONE]\n\n');
}

function reply(response: ServerResponse, status: number, body: object): void {
	response.writeHead(status, { 'content-type': 'application/json' });
	response.end(JSON.stringify(body));
}
