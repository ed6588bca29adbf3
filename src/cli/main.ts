/**
 * `nodewasm`: the command-line tool. Each command is a function from its arguments to an exit code.
 */
import { UsageError, buildCommand } from './build-image.js';
import { demoCommand } from './demo.js';
import { installCommand } from './install.js';

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, { run: Command; summary: string }> = {
  build: { run: buildCommand, summary: 'build a wasi/wasm OCI image tar from .wasm files' },
  demo: { run: demoCommand, summary: 'run the bundled example through containerd with this shim' },
  install: { run: installCommand, summary: 'install the shim on this node and register the runtime handler in containerd' },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, { summary }]) => `  ${name.padEnd(8)} ${summary}`);
  return `Usage: nodewasm <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "nodewasm <command> --help" for a command's options.\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (command === undefined) {
    process.stderr.write(`nodewasm: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    const usageProblem =
      error instanceof UsageError || (error as { code?: unknown }).code?.toString().startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`nodewasm ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    return usageProblem ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
