const { src, dest } = require('gulp');

/** tsc compiles TypeScript only: icons and codex files are copied beside the compiled files. */
function buildIcons() {
	return src(['icons/*.svg', 'nodes/**/*.{png,svg,json}', 'credentials/**/*.{png,svg}'], {
		base: '.',
		encoding: false,
	}).pipe(dest('dist'));
}

exports['build:icons'] = buildIcons;
