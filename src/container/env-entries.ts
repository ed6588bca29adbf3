/** A process environment as the OCI spec holds it: KEY=VALUE strings, later ones winning. */

export function envKey(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

/** The value of the last `name=` entry, or undefined when there is none. */
export function lastEnvValue(env: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (const entry of env) if (envKey(entry) === name) value = entry.slice(name.length + 1);
  return value;
}

export function withoutEnv(env: readonly string[], names: ReadonlySet<string>): string[] {
  return env.filter((entry) => !names.has(envKey(entry)));
}
