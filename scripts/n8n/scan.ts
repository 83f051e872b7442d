/**
 * `npm run scan`: the checks n8n's community package scanner applies, run on this repository's `npm pack`
 * tarball before it is published.
 *
 * - The scanner itself (@n8n/scan-community-package 0.32, its `analyzePackage`): n8n's ESLint rules on the
 *   tarball's JS and package.json, and on the source (package.json, nodes/, credentials/). Only its
 *   registry steps (provenance, download) are left out: the package is not published.
 * - What those rules let through, checked here: every `require` in shipped JS must be relative, n8n-workflow
 *   or node:crypto (the linter allows any devDependency, which n8n never installs); every file the `n8n`
 *   section names is in the tarball and loads, with the node and credential names the examples use.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

import { PACKAGE_NAME, REPO_ROOT } from './config';
import { buildAndPack } from './package';
import { runOrThrow } from './processes';

/** Modules shipped code may require at run time: n8n provides n8n-workflow; crypto is on n8n Cloud's allow list. */
const ALLOWED_REQUIRES = new Set(['n8n-workflow', 'crypto', 'node:crypto']);
const FORBIDDEN_LIFECYCLE_SCRIPTS = ['prepare', 'preinstall', 'install', 'postinstall', 'prepublish', 'preprepare', 'postprepare'];
const EXPECTED = { nodes: ['klingExpand', 'klingExpandTrigger'], credentials: ['klingApi'] };

interface ScanResult {
	passed: boolean;
	message?: string;
	details?: string;
}

interface Scanner {
	analyzePackage(directory: string, patterns?: string[]): Promise<ScanResult>;
	SOURCE_FILE_PATTERNS: string[];
}

async function main(): Promise<number> {
	// Inside the repository, so that the unpacked dist resolves n8n-workflow from our node_modules, as it would from n8n's.
	mkdirSync(join(REPO_ROOT, '.cache'), { recursive: true });
	const workDir = mkdtempSync(join(REPO_ROOT, '.cache', 'scan-'));
	try {
		const tarball = await buildAndPack(workDir);
		const packageDir = join(workDir, 'package');
		mkdirSync(packageDir);
		await runOrThrow('tar', ['-xzf', tarball, '-C', packageDir, '--strip-components=1']);
		console.log(`[scan] ${basename(tarball)}: ${listFiles(packageDir).length} files`);

		const problems = [...checkPackageJson(packageDir), ...checkShippedRequires(packageDir), ...checkN8nSection(packageDir)];
		for (const problem of problems) console.log(`  ✗ ${problem}`);
		if (problems.length === 0) console.log('  ✓ package.json, n8n section, shipped requires');

		const scanner = await importScanner();
		const results: [string, ScanResult][] = [
			['scanner on the tarball (dist JS + package.json)', await scanner.analyzePackage(packageDir, ['**/*.js', 'package.json'])],
			['scanner on the source (package.json, nodes/, credentials/)', await scanner.analyzePackage(REPO_ROOT, scanner.SOURCE_FILE_PATTERNS)],
		];
		for (const [what, result] of results) {
			console.log(`  ${result.passed ? '✓' : '✗'} ${what}${result.message ? `: ${result.message}` : ''}`);
			if (result.details) console.log(result.details);
		}
		const outcomes = [problems.length === 0, ...results.map(([, result]) => result.passed)];
		const failed = outcomes.filter((passed) => !passed).length;
		console.log(`${outcomes.length - failed} passed, ${failed} failed`);
		return failed === 0 ? 0 : 1;
	} finally {
		rmSync(workDir, { recursive: true, force: true });
	}
}

function checkPackageJson(packageDir: string): string[] {
	const pkg = readJson(join(packageDir, 'package.json'));
	const problems: string[] = [];
	if (pkg.name !== PACKAGE_NAME || !/^(@[^/]+\/)?n8n-nodes-/.test(String(pkg.name))) problems.push(`package name is "${String(pkg.name)}"`);
	if (!(pkg.keywords as string[] | undefined)?.includes('n8n-community-node-package')) problems.push('keywords lack "n8n-community-node-package"');
	const dependencies = Object.keys((pkg.dependencies as object | undefined) ?? {});
	if (dependencies.length) problems.push(`runtime dependencies: ${dependencies.join(', ')}; n8n installs none for verified nodes`);
	if (pkg.bundleDependencies || pkg.bundledDependencies) problems.push('bundled dependencies are not allowed');
	const scripts = Object.keys((pkg.scripts as object | undefined) ?? {}).filter((name) => FORBIDDEN_LIFECYCLE_SCRIPTS.includes(name));
	if (scripts.length) problems.push(`lifecycle scripts that would run on install: ${scripts.join(', ')}`);
	const unexpected = listFiles(packageDir).filter((file) => !/^(dist\/|package\.json$|README\.md$|LICENSE(\.md)?$|index\.js$)/.test(file));
	if (unexpected.length) problems.push(`files outside dist/ in the tarball: ${unexpected.join(', ')}`);
	return problems;
}

/** Each `require("x")` in shipped JS, for x neither relative nor allowed. TypeScript emits every import as such a call. */
function checkShippedRequires(packageDir: string): string[] {
	const problems: string[] = [];
	for (const file of listFiles(packageDir).filter((name) => name.endsWith('.js'))) {
		const source = readFileSync(join(packageDir, file), 'utf8');
		for (const match of source.matchAll(/\brequire\(\s*["'`]([^"'`]+)["'`]\s*\)|\bimport\(\s*["'`]([^"'`]+)["'`]\s*\)/g)) {
			const name = match[1] ?? match[2];
			if (!name.startsWith('.') && !ALLOWED_REQUIRES.has(name)) problems.push(`${file} requires "${name}"`);
		}
	}
	return problems;
}

/** The `n8n` section: API version 1, strict, and every listed file present and exporting the expected class. */
function checkN8nSection(packageDir: string): string[] {
	const section = readJson(join(packageDir, 'package.json')).n8n as { n8nNodesApiVersion?: number; strict?: boolean; nodes?: string[]; credentials?: string[] } | undefined;
	if (!section) return ['package.json has no "n8n" section'];
	const problems: string[] = [];
	if (section.n8nNodesApiVersion !== 1) problems.push(`n8n.n8nNodesApiVersion is ${section.n8nNodesApiVersion}; expected 1`);
	if (section.strict !== true) problems.push('n8n.strict is not true');
	const names = { nodes: [] as string[], credentials: [] as string[] };
	for (const kind of ['nodes', 'credentials'] as const) {
		for (const file of section[kind] ?? []) {
			const path = join(packageDir, file);
			try {
				statSync(path);
			} catch {
				problems.push(`n8n.${kind} lists ${file}, which is not in the tarball`);
				continue;
			}
			const exported = Object.values(require(path) as Record<string, new () => { description?: { name?: string }; name?: string }>);
			const instance = exported.length === 1 ? new exported[0]() : undefined;
			const name = kind === 'nodes' ? instance?.description?.name : instance?.name;
			if (!name) problems.push(`${file} does not export exactly one ${kind === 'nodes' ? 'node' : 'credential'} class`);
			else names[kind].push(name);
		}
	}
	for (const kind of ['nodes', 'credentials'] as const) {
		const missing = EXPECTED[kind].filter((name) => !names[kind].includes(name));
		if (missing.length) problems.push(`n8n.${kind} lacks ${missing.join(', ')} (found ${names[kind].join(', ') || 'none'})`);
	}
	return problems;
}

function listFiles(directory: string, prefix = ''): string[] {
	return readdirSync(directory, { withFileTypes: true }).flatMap((entry) =>
		entry.isDirectory() ? listFiles(join(directory, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
	);
}

function readJson(path: string): Record<string, unknown> {
	return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

/** The scanner is an ES module; TypeScript's CommonJS output would turn `import()` into `require()`, so keep it native. */
async function importScanner(): Promise<Scanner> {
	const nativeImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<Scanner>;
	return await nativeImport(require.resolve('@n8n/scan-community-package/scanner/scanner.mjs', { paths: [REPO_ROOT] }));
}

main().then(
	(code) => process.exit(code),
	(error: Error) => {
		console.error(error);
		process.exit(1);
	},
);
