/**
 * A new user's journeys through n8n's editor, each a check that asserts on what the page shows.
 * `npm run test:editor` (editor.ts) runs them in order against one n8n with the package installed.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Locator, Page } from 'playwright-core';

import { makeTestImage, SIMULATOR_DEFAULT_KEYS } from '../../test/simulator';
import { EXAMPLES_DIR } from './config';
import { QUEUE_PROMPT } from './workflows';
import type { RestClient } from './rest';
import { waitFor } from './processes';

/** What a check works with: the signed-in page, and what the page cannot tell (URLs, folders). */
export interface EditorSession {
	page: Page;
	baseUrl: string;
	simulatorUrl: string;
	/** The folder n8n may read and write (N8N_RESTRICT_FILE_ACCESS_TO); kling/input.png is 800×600. */
	filesDir: string;
	rest: RestClient;
	/** The imported example "submit-with-callback" (its image URL served on 127.0.0.1). */
	submitWithCallbackId: string;
	/** Saves a screenshot of the page under this name (in the suite's git-ignored folder). */
	shot(name: string): Promise<void>;
}

export interface EditorCheck {
	name: string;
	/** Resolves with a one-line summary of what it saw, or throws saying what the page showed instead. */
	run(session: EditorSession): Promise<string>;
}

/** Words a user might search for; each must find both nodes. */
export const SEARCH_WORDS = [
	'kling',
	'expand',
	'outpaint',
	'expand image',
	'extend image',
	'cometapi',
];
const ENTRY = 'Kling Expand';
const UI_CREDENTIAL = 'Kling (made in the editor)';
const NO_SECRET_CREDENTIAL = 'Kling without signing secret';
/** The files folder of n8n's Docker image, which the examples use. */
const DOCKER_FILES_DIR = '/home/node/.n8n-files';

const search: EditorCheck = {
	name: `the nodes panel finds Kling Expand and its trigger by ${SEARCH_WORDS.map((word) => `"${word}"`).join(', ')}, in the trigger panel and in "What happens next?"`,
	async run({ page, baseUrl, shot }) {
		await newWorkflow(page, baseUrl);
		await page.getByTestId('canvas-plus-button').click();
		await expectHeading(page, 'What triggers this workflow?');
		for (const word of SEARCH_WORDS) await expectEntry(page, word);
		await searchNodes(page, 'kling');
		await shot('search-trigger-panel');
		await page.getByTestId('node-creator-search-bar').fill('manual');
		await nodeItem(page, 'Manual Trigger').click();
		await page.getByTestId('node-creator-plus-button').click();
		await expectHeading(page, 'What happens next?');
		for (const word of SEARCH_WORDS) await expectEntry(page, word);
		await searchNodes(page, 'expand image');
		await shot('search-next-panel');
		await nodeItem(page, ENTRY).click();
		const creator = page.getByTestId('node-creator');
		for (const text of [
			'Expand an image and wait for the result',
			'Submit an expansion task',
			'Get an expansion task',
			'List expansion tasks',
			'Triggers (1)',
		])
			await creator.getByText(text, { exact: true }).waitFor({ timeout: 10_000 });
		await shot('search-actions');
		return `found by all ${SEARCH_WORDS.length} words in both panels; 4 actions and 1 trigger listed`;
	},
};

const credential: EditorCheck = {
	name: 'a Kling API credential made in the editor: Test is green for the right keys and names the fields to check for a wrong one',
	async run({ page, baseUrl, simulatorUrl, shot }) {
		const keys = SIMULATOR_DEFAULT_KEYS;
		const modal = await newCredential(page, baseUrl, UI_CREDENTIAL);
		await fillCredential(modal, {
			accessKey: keys.accessKey,
			secretKey: 'not-the-secret-key',
			baseUrl: simulatorUrl,
		});
		await modal.getByTestId('credential-save-button').click();
		await modal.getByText('Couldn’t connect with these settings').waitFor({ timeout: 30_000 });
		await modal.getByText('More details').click();
		const hint = modal.getByText(/The key was refused \(HTTP 401\)/);
		await hint.waitFor({ timeout: 10_000 });
		const hintText = await hint.innerText();
		for (const field of ['Access Key and Secret Key', 'Region', 'CometAPI Key'])
			if (!hintText.includes(field))
				throw new Error(`the failed test's hint does not name ${field}: "${hintText}"`);
		await shot('credential-test-wrong-key');

		await fillCredential(modal, {
			secretKey: keys.secretKey,
			webhookSecret: keys.webhookSecret,
		});
		await modal.getByTestId('credential-save-button').click();
		await modal
			.getByTestId('credentials-config-container-test-success')
			.waitFor({ timeout: 30_000 });
		await shot('credential-test-success');
		await closeModal(modal);
		return `wrong secret key: "${hintText.slice(0, 60)}…"; right keys: Connection tested successfully`;
	},
};

const buildAndRun: EditorCheck = {
	name: 'Manual Trigger → Read File → Kling Expand (Submit and Wait) → Write File, built and executed in the editor: the output shows the task and the image',
	async run({ page, baseUrl, filesDir, shot }) {
		await newWorkflow(page, baseUrl);
		await page.getByTestId('canvas-plus-button').click();
		await searchNodes(page, 'manual');
		await nodeItem(page, 'Manual Trigger').click();
		await addNode(page, 'Read/Write Files', 'Read/Write Files from Disk', 'Read File(s) From Disk');
		await fillParameter(page, 'fileSelector', join(filesDir, 'kling', 'input.png'));
		await closeNode(page);
		await addNode(page, 'kling', ENTRY, 'Expand an image and wait for the result');
		await chooseCredential(page, UI_CREDENTIAL);
		await shot('node-panel-submit-and-wait');
		await closeNode(page);
		await addNode(page, 'Read/Write Files', 'Read/Write Files from Disk', 'Write File to Disk');
		await fillParameter(
			page,
			'fileName',
			join(filesDir, 'kling', 'built-{{ $json.image.file_name }}'),
		);
		await closeNode(page);

		await executeWorkflow(page);
		await waitForNodeSuccess(page, ENTRY);
		await openNodeNamed(page, ENTRY);
		const output = page.getByTestId('output-panel');
		await output.getByTestId('radio-button-json').click();
		await output.getByText('"succeed"').first().waitFor({ timeout: 10_000 });
		const json = (await output.innerText()).replace(/\s+/g, ' ');
		for (const text of ['"task_status": "succeed"', '"task_id": "', '"original_width": 800'])
			if (!json.includes(text))
				throw new Error(`the output panel does not show ${text}: ${json.slice(0, 3000)}`);
		const binary = output.getByTestId('radio-button-binary');
		await binary.click();
		await output.getByText('image/png').first().waitFor({ timeout: 10_000 });
		await shot('node-output-binary');
		await closeNode(page);
		const taskId = /"task_id": "([^"]+)"/.exec(json)?.[1];
		const written = join(filesDir, 'kling', `built-${taskId}_0.png`);
		if (!existsSync(written)) throw new Error(`Write File did not write ${written}`);
		return `succeeded; the output shows task ${taskId} and an image/png; Write File wrote it`;
	},
};

const badInput: EditorCheck = {
	name: 'a 200×200 image: the editor shows the field, the value and the rule, and nothing is sent',
	async run({ page, filesDir, shot }) {
		// The workflow built by the previous check is still open.
		writeFileSync(
			join(filesDir, 'kling', 'small.png'),
			await makeTestImage({ width: 200, height: 200, format: 'png' }),
		);
		await openNodeNamed(page, 'Read/Write Files from Disk');
		await fillParameter(page, 'fileSelector', join(filesDir, 'kling', 'small.png'));
		await closeNode(page);
		await executeWorkflow(page);
		await openNodeNamed(page, ENTRY);
		const output = page.getByTestId('output-panel');
		const message = output.getByText(/200×200 px/).first();
		await message.waitFor({ timeout: 60_000 });
		const text = await output.innerText();
		for (const part of [
			'Input binary field "data"',
			'200×200 px',
			'at least 300 px',
			'Nothing was sent to Kling',
		])
			if (!text.includes(part))
				throw new Error(`the error does not show "${part}":\n${text.slice(0, 800)}`);
		await shot('node-error-small-image');
		await closeNode(page);
		return 'shows: Input binary field "data" is 200×200 px; … at least 300 px. Nothing was sent to Kling…';
	},
};

const callbackResume: EditorCheck = {
	name: 'Wait Mode Callback (Resume), executed from the editor: the execution waits, then finishes by itself',
	async run({ page, filesDir, rest, shot }) {
		await openNodeNamed(page, 'Read/Write Files from Disk');
		await fillParameter(page, 'fileSelector', join(filesDir, 'kling', 'input.png'));
		await closeNode(page);
		await openNodeNamed(page, ENTRY);
		await chooseParameterOption(page, 'waitMode', 'Callback (Resume)');
		// The simulator takes 30 s over this prompt: long enough to see the execution wait.
		await fillParameter(page, 'prompt', `${QUEUE_PROMPT}7`);
		await closeNode(page);
		await executeWorkflow(page);
		const workflowId = workflowIdOf(page);
		const waiting = await waitFor(
			"the execution to wait for Kling's callback",
			async () =>
				(await rest.executions(workflowId)).find((execution) => execution.status === 'waiting'),
			60_000,
			500,
		);
		await page.getByText('Executing workflow').waitFor({ timeout: 10_000 });
		await shot('workflow-waiting-for-callback');
		await waitForNodeSuccess(page, 'Read/Write Files from Disk1', 120_000);
		const finished = await rest.execution(waiting.id);
		if (finished.status !== 'success')
			throw new Error(`execution ${waiting.id} ended ${finished.status}`);
		return `execution ${waiting.id} waited (n8n status "waiting", the editor "Executing workflow"), then succeeded by itself`;
	},
};

const triggerPublish: EditorCheck = {
	name: 'publishing a trigger whose credential has no signing secret is refused with the fix; with the secret it publishes and one Submit starts one execution',
	async run({ page, baseUrl, simulatorUrl, rest, submitWithCallbackId, shot }) {
		const keys = SIMULATOR_DEFAULT_KEYS;
		const modal = await newCredential(page, baseUrl, NO_SECRET_CREDENTIAL);
		await fillCredential(modal, {
			accessKey: keys.accessKey,
			secretKey: keys.secretKey,
			baseUrl: simulatorUrl,
		});
		await modal.getByTestId('credential-save-button').click();
		await modal
			.getByTestId('credentials-config-container-test-success')
			.waitFor({ timeout: 30_000 });
		await closeModal(modal);

		await newWorkflow(page, baseUrl);
		await page.getByTestId('canvas-plus-button').click();
		await searchNodes(page, 'kling');
		await nodeItem(page, ENTRY).click();
		await page.getByTestId('node-creator').getByText('On new Kling Expand event').first().click();
		await page.getByTestId('ndv').waitFor();
		await chooseCredential(page, NO_SECRET_CREDENTIAL);
		const notice = await page
			.getByTestId('ndv')
			.getByText(/publishing the workflow is refused/)
			.innerText();
		await shot('trigger-panel-signature');
		const productionUrl = await triggerProductionUrl(page);
		await closeNode(page);

		const refusal = await publish(page, false);
		if (
			!/has no Callback Signing Secret/.test(refusal) ||
			!/Callback Signing Secret field/.test(refusal)
		)
			throw new Error(`publishing was refused without naming the secret: "${refusal}"`);
		await shot('trigger-publish-refused');

		await openNodeNamed(page, 'Kling Expand Trigger');
		await chooseCredential(page, UI_CREDENTIAL);
		await closeNode(page);
		await publish(page, true);
		await shot('trigger-published');

		const workflowId = workflowIdOf(page);
		await submitWithCallback(page, baseUrl, submitWithCallbackId, productionUrl);
		const executions = await waitFor(
			'the trigger workflow to have a finished execution',
			async () => {
				const list = await rest.executions(workflowId);
				return list.some((execution) => execution.status === 'success') ? list : undefined;
			},
			90_000,
			1000,
		);
		// Kling reports submitted, processing and succeed: only succeed is selected by default.
		await page.waitForTimeout(3000);
		const final = await rest.executions(workflowId);
		if (final.length !== 1)
			throw new Error(
				`expected exactly one execution, found ${final.length} (${executions.length} at first)`,
			);
		await page.goto(`${baseUrl}/workflow/${workflowId}/executions`);
		const list = page.getByTestId('current-executions-list');
		await list
			.getByText(/Succeeded/)
			.first()
			.waitFor({ timeout: 30_000 });
		const rows = await list.locator('[data-test-id^="execution-details-"]').count();
		if (rows !== 1) throw new Error(`the Executions list shows ${rows} executions, not 1`);
		const checklist = page.getByTestId('suggested-actions-close');
		if (await checklist.isVisible().catch(() => false)) await checklist.click();
		await shot('trigger-executions');
		const shown = (await list.innerText()).replace(/\s+/g, ' ');
		return `notice before publishing: "…${notice.slice(-60)}"; refused: "${refusal.replace(/\s+/g, ' ').slice(0, 120)}…"; published; the Executions list shows one: ${shown}`;
	},
};

const examples: EditorCheck = {
	name: 'each example in examples/ imports through the editor; local-image-to-disk runs after the one change its sticky note names',
	async run({ page, baseUrl, filesDir, shot }) {
		const files = readdirSync(EXAMPLES_DIR).filter((name) => name.endsWith('.json'));
		for (const file of files) {
			await newWorkflow(page, baseUrl);
			await page.getByTestId('workflow-import-input').setInputFiles(join(EXAMPLES_DIR, file));
			await page.getByTestId('canvas-node').first().waitFor({ timeout: 30_000 });
			const workflow = JSON.parse(readFileSync(join(EXAMPLES_DIR, file), 'utf8')) as {
				nodes: { name: string; type: string }[];
			};
			for (const node of workflow.nodes.filter((node) => !node.type.endsWith('stickyNote')))
				await page
					.locator(`[data-test-id="canvas-node"][data-node-name="${node.name}"]`)
					.waitFor({ timeout: 10_000 });
			await page.waitForTimeout(1000);
			await shot(`example-${file.replace(/\.json$/, '')}`);
		}
		// local-image-to-disk, with the one change its sticky note names for n8n outside Docker: the
		// files folder (here the one N8N_RESTRICT_FILE_ACCESS_TO names) instead of Docker's.
		await newWorkflow(page, baseUrl);
		await page
			.getByTestId('workflow-import-input')
			.setInputFiles(join(EXAMPLES_DIR, 'local-image-to-disk.json'));
		await page.getByTestId('canvas-node').first().waitFor({ timeout: 30_000 });
		// The sticky note names the folder to change.
		await page
			.getByTestId('canvas')
			.getByText(DOCKER_FILES_DIR)
			.first()
			.waitFor({ timeout: 10_000 });
		await openNodeNamed(page, 'Read Image');
		await replaceInParameter(page, 'fileSelector', DOCKER_FILES_DIR, filesDir);
		await closeNode(page);
		await openNodeNamed(page, 'Write Expanded Image');
		await replaceInParameter(page, 'fileName', DOCKER_FILES_DIR, filesDir);
		await closeNode(page);
		await openNodeNamed(page, 'Expand to 16:9');
		await chooseCredential(page, UI_CREDENTIAL);
		await closeNode(page);
		await executeWorkflow(page);
		await waitForNodeSuccess(page, 'Write Expanded Image');
		const written = readdirSync(join(filesDir, 'kling')).filter((name) =>
			name.startsWith('expanded_'),
		);
		if (written.length === 0) throw new Error('local-image-to-disk wrote no expanded_ file');
		return `imported ${files.join(', ')}; local-image-to-disk ran after the sticky note's change and wrote ${written.join(', ')}`;
	},
};

export const editorChecks: EditorCheck[] = [
	search,
	credential,
	buildAndRun,
	badInput,
	callbackResume,
	triggerPublish,
	examples,
];

function workflowIdOf(page: Page): string {
	const id = /\/workflow\/([^/?#]+)/.exec(page.url())?.[1];
	if (!id) throw new Error(`no workflow id in ${page.url()}`);
	return id;
}

async function newWorkflow(page: Page, baseUrl: string): Promise<void> {
	await page.goto(`${baseUrl}/workflow/new`);
	await page.getByTestId('canvas-plus-button').waitFor({ timeout: 60_000 });
	await page.waitForTimeout(500);
}

async function expectHeading(page: Page, heading: string): Promise<void> {
	await page.getByTestId('node-creator').getByText(heading).waitFor({ timeout: 10_000 });
}

async function searchNodes(page: Page, word: string): Promise<void> {
	await page.getByTestId('node-creator-search-bar').fill(word);
	await page.waitForTimeout(300);
}

function nodeItem(page: Page, name: string): Locator {
	return page
		.getByTestId('node-creator')
		.getByTestId('item-iterator-item')
		.filter({ has: page.getByTestId('node-creator-item-name').getByText(name, { exact: true }) })
		.first();
}

/** Searches `word` and expects the one Kling Expand entry, with our icon and description. */
async function expectEntry(page: Page, word: string): Promise<void> {
	await searchNodes(page, word);
	const item = nodeItem(page, ENTRY);
	try {
		await item.waitFor({ timeout: 10_000 });
	} catch {
		const shown = await page.getByTestId('node-creator').innerText();
		throw new Error(`searching "${word}" shows no ${ENTRY}:\n${shown.slice(0, 400)}`);
	}
	const description = await item.getByTestId('node-creator-item-description').innerText();
	if (!description.startsWith('Expand (outpaint) images with Kling AI'))
		throw new Error(`searching "${word}": the entry says "${description}"`);
	const icon = await item.locator('img').first().getAttribute('src');
	if (!icon?.includes('kling')) throw new Error(`searching "${word}": the entry's icon is ${icon}`);
}

async function addNode(page: Page, word: string, item: string, action: string): Promise<void> {
	await page.getByTestId('node-creator-plus-button').click();
	await searchNodes(page, word);
	await nodeItem(page, item).click();
	await page.getByTestId('node-creator').getByText(action, { exact: true }).click();
	await page.getByTestId('ndv').waitFor({ timeout: 15_000 });
	await page.waitForTimeout(500);
}

async function fillParameter(page: Page, name: string, value: string): Promise<void> {
	const input = page
		.getByTestId('ndv')
		.getByTestId(`parameter-input-${name}`)
		.locator('input, textarea, [contenteditable="true"]')
		.first();
	await input.click();
	await input.fill(value);
	await page.keyboard.press('Tab');
}

/** Edits a field's value as a user would: `from` replaced by `to` in what the field shows. */
async function replaceInParameter(
	page: Page,
	name: string,
	from: string,
	to: string,
): Promise<void> {
	const field = page.getByTestId('ndv').getByTestId(`parameter-input-${name}`);
	const input = field.locator('input, textarea').first();
	if (await input.isVisible().catch(() => false)) {
		const value = await input.inputValue();
		if (!value.includes(from)) throw new Error(`${name} is "${value}", without ${from}`);
		await input.fill(value.replace(from, to));
	} else {
		// An expression: n8n shows it in a code editor.
		const editor = field.locator('[contenteditable="true"]').first();
		const value = await editor.innerText();
		if (!value.includes(from)) throw new Error(`${name} is "${value}", without ${from}`);
		await editor.click();
		await page.keyboard.press('ControlOrMeta+a');
		await page.keyboard.press('Delete');
		// Typing `{{` makes the editor add the closing `}}` itself.
		await page.keyboard.type(value.replace(from, to).replace(/\}\}/g, ''));
		// The editor commits what was typed after a pause.
		await page.waitForTimeout(1000);
		const now = await editor.innerText();
		if (!now.includes(to)) throw new Error(`${name} shows "${now}" after the edit`);
	}
	await page.keyboard.press('Tab');
}

async function chooseParameterOption(page: Page, name: string, option: string): Promise<void> {
	await page.getByTestId('ndv').getByTestId(`parameter-input-${name}`).click();
	await dropdownOption(page, option).click();
	await page.waitForTimeout(300);
}

async function chooseCredential(page: Page, name: string): Promise<void> {
	const select = page.getByTestId('ndv').getByTestId('node-credentials-select');
	await select.click();
	await dropdownOption(page, name).click();
	await page.waitForTimeout(300);
}

/** An entry of the open dropdown whose label is exactly `label` (a credential's also names its type). */
function dropdownOption(page: Page, label: string): Locator {
	return page
		.locator('.el-select-dropdown__item:visible, [role="option"]:visible')
		.filter({ has: page.getByText(label, { exact: true }) })
		.first();
}

async function closeNode(page: Page): Promise<void> {
	await page.getByTestId('ndv-close-button').click();
	await page.getByTestId('ndv').waitFor({ state: 'hidden', timeout: 10_000 });
}

async function openNodeNamed(page: Page, name: string): Promise<void> {
	await page.locator(`[data-test-id="canvas-node"][data-node-name="${name}"]`).dblclick();
	await page.getByTestId('ndv').waitFor({ timeout: 15_000 });
	await page.waitForTimeout(500);
}

async function executeWorkflow(page: Page): Promise<void> {
	// Messages from an earlier run would be read as this run's.
	for (const close of await page.locator('.el-notification__closeBtn:visible').all())
		await close.click().catch(() => undefined);
	await page.getByTestId('execute-workflow-button').click();
}

/** Waits for the node's success mark; fails at once with the editor's message if a node fails. */
async function waitForNodeSuccess(page: Page, name: string, timeout = 90_000): Promise<void> {
	const success = page
		.locator(`[data-test-id="canvas-node"][data-node-name="${name}"]`)
		.getByTestId('canvas-node-status-success');
	const problem = page.locator('.el-notification').filter({ hasText: /^Problem/ });
	await success.or(problem).first().waitFor({ timeout });
	if (
		await problem
			.first()
			.isVisible()
			.catch(() => false)
	)
		throw new Error(`the editor says: ${(await problem.first().innerText()).replace(/\s+/g, ' ')}`);
}

async function newCredential(page: Page, baseUrl: string, name: string): Promise<Locator> {
	await page.goto(`${baseUrl}/home/credentials/create`);
	const select = page.getByTestId('selectCredential-modal');
	await select.getByTestId('new-credential-type-select').click();
	await page.keyboard.type('Kling API');
	await page
		.getByTestId('new-credential-type-select-option')
		.filter({ hasText: 'Kling API' })
		.first()
		.click();
	await select.getByTestId('new-credential-type-button').click();
	const modal = page.getByTestId('editCredential-modal');
	await modal.waitFor();
	await modal.getByTestId('credential-name').click();
	await modal.getByTestId('credential-name').getByTestId('inline-edit-input').fill(name);
	await page.keyboard.press('Enter');
	return modal;
}

async function fillCredential(modal: Locator, fields: Record<string, string>): Promise<void> {
	for (const [name, value] of Object.entries(fields))
		await modal.getByTestId(`parameter-input-${name}`).locator('input').first().fill(value);
}

async function closeModal(modal: Locator): Promise<void> {
	await modal.locator('.el-dialog__close, [aria-label="Close"]').first().click();
	await modal.waitFor({ state: 'hidden', timeout: 10_000 });
}

/** The Production URL the open trigger panel shows. */
async function triggerProductionUrl(page: Page): Promise<string> {
	const panel = page.getByTestId('ndv');
	await panel.getByText('Webhook URLs', { exact: true }).first().click();
	await panel.getByText('Production URL', { exact: true }).first().click();
	const url = await panel
		.getByText(/\/webhook\/[^/]+\/kling-expand/)
		.first()
		.innerText();
	return url.trim();
}

/** Publishes the open workflow; resolves with the error the editor shows when `expectSuccess` is false. */
async function publish(page: Page, expectSuccess: boolean): Promise<string> {
	await page.getByTestId('workflow-open-publish-modal-button').click();
	const dialog = page.getByRole('dialog').last();
	await dialog.getByRole('button', { name: /^Publish$/ }).click();
	if (expectSuccess) {
		await page
			.getByText(/published/i)
			.first()
			.waitFor({ timeout: 30_000 });
		return '';
	}
	const error = page
		.locator('.el-notification')
		.filter({ hasText: /Callback Signing Secret|problem|could not/i })
		.first();
	await error.waitFor({ timeout: 30_000 });
	return await error.innerText();
}

/** Runs the imported submit-with-callback example with `callbackUrl` as its Callback URL. */
async function submitWithCallback(
	page: Page,
	baseUrl: string,
	workflowId: string,
	callbackUrl: string,
): Promise<void> {
	await page.goto(`${baseUrl}/workflow/${workflowId}`);
	await page.getByTestId('canvas-node').first().waitFor({ timeout: 30_000 });
	await openNodeNamed(page, 'Submit Expansion');
	await chooseCredential(page, UI_CREDENTIAL);
	await fillParameter(page, 'callbackUrl', callbackUrl);
	await closeNode(page);
	await executeWorkflow(page);
	await waitForNodeSuccess(page, 'Submit Expansion');
}
