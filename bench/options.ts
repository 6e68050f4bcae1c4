/** A benchmark setting: `--name value` (or `--name=value`, or a bare `--name` for 1) wins over the variable `env`. */
export function option(name: string, env: string): string | undefined {
  const argv = process.argv.slice(2);
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i >= 0) return argv[i]!.includes('=') ? argv[i]!.split('=')[1] : (argv[i + 1]?.startsWith('--') ?? true) ? '1' : argv[i + 1];
  return process.env[env];
}
