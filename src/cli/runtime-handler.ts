/**
 * The nodewasm runtime handler as containerd's config names it, in each config version: what
 * `nodewasm install` writes into a node's config and what the private containerd's config uses.
 */
export const RUNTIME_TYPE = 'io.containerd.nodewasm.v1';
export const HANDLER = 'nodewasm';
export const BLOCK_BEGIN = '# >>> nodewasm runtime handler (managed by `nodewasm install`; edits inside are overwritten) >>>';
export const BLOCK_END = '# <<< nodewasm runtime handler <<<';

/** containerd's config format: 1 (no `version` line), 2 (containerd 1.x) or 3 (containerd 2.x). */
export type ConfigVersion = 1 | 2 | 3;

/** The `nodewasm` runtime table in the form each config version names the CRI plugin. */
export function runtimeTable(version: ConfigVersion): string {
  switch (version) {
    case 1:
      return `[plugins.cri.containerd.runtimes.${HANDLER}]\n  runtime_type = "${RUNTIME_TYPE}"\n`;
    case 2:
      return `[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.${HANDLER}]\n  runtime_type = "${RUNTIME_TYPE}"\n`;
    case 3:
      return `[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.${HANDLER}]\n  runtime_type = '${RUNTIME_TYPE}'\n`;
  }
}

/** The block `nodewasm install` keeps in an existing config: the runtime table between markers. */
export function managedBlock(version: ConfigVersion): string {
  return `${BLOCK_BEGIN}\n${runtimeTable(version)}${BLOCK_END}\n`;
}
