/**
 * Kills our kernels' process groups if this Node process dies, even by SIGKILL.
 * One tiny /bin/sh per Node process reads "+PGID" / "-PGID" lines on stdin; when
 * stdin reaches EOF (our process is gone, or exiting) it SIGKILLs every group still
 * listed. ipykernel also exits on its own via JPY_PARENT_PID, but IRkernel and
 * others do not, and a kernel's children live in its group. The list is kept with
 * the shell's own expansions: no process is started per line (one per kernel).
 */
import { spawn, type ChildProcess } from 'node:child_process';

const SCRIPT = `
trap '' INT TERM HUP
pids=" "
while IFS= read -r line; do
  case "$line" in
    +*) pids="$pids\${line#+} " ;;
    -*) p="\${line#-}"; case "$pids" in *" $p "*) pids="\${pids%% $p *} \${pids#* $p }" ;; esac ;;
  esac
done
for p in $pids; do kill -KILL "-$p" 2>/dev/null; done
`;

let watchdog: ChildProcess | null = null;

function ensure(): ChildProcess | null {
  if (watchdog && watchdog.exitCode === null && watchdog.stdin?.writable) return watchdog;
  try {
    const child = spawn('/bin/sh', ['-c', SCRIPT], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    child.on('error', () => {
      watchdog = null;
    });
    child.stdin!.on('error', () => {});
    child.unref();
    // Keep the pipe from holding the event loop open; the OS closes it when we die.
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    watchdog = child;
    return child;
  } catch {
    return null;
  }
}

export function watchProcessGroup(pgid: number): void {
  ensure()?.stdin?.write(`+${pgid}\n`);
}

export function unwatchProcessGroup(pgid: number): void {
  if (watchdog?.stdin?.writable) watchdog.stdin.write(`-${pgid}\n`);
}
