/**
 * Kills our kernels' process groups if this Node process dies, even by SIGKILL.
 * One tiny /bin/sh per Node process reads "+PGID" / "-PGID" lines on stdin; when
 * stdin reaches EOF (our process is gone, or exiting) it SIGKILLs every group still
 * listed. ipykernel also exits on its own via JPY_PARENT_PID, but IRkernel and
 * others do not, and a kernel's children live in its group. The list is kept with
 * the shell's own expansions: no process is started per line (one per kernel).
 *
 * "=PGID" marks a kernel that was asked to shut down and answered (the CLI does not
 * wait for its Python teardown): at EOF it gets LATE_GRACE_TENTHS to exit on its own
 * (its atexit code runs), polled every 0.1 s, then SIGTERM and SIGKILL; its group is
 * SIGKILLed once it has exited (children it left behind), as KernelClient.shutdown does.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/**
 * How long a kernel left to finish its own exit (\`letProcessGroupFinish\`) may take once we are
 * gone: as long as KernelClient.shutdown waits after shutdown_request (2 s), then SIGTERM, 1 s, SIGKILL.
 */
const LATE_GRACE_TENTHS = 20;

const SCRIPT = `
trap '' INT TERM HUP
pids=" "
late=" "
while IFS= read -r line; do
  case "$line" in
    +*) pids="$pids\${line#+} " ;;
    -*) p="\${line#-}"
        case "$pids" in *" $p "*) pids="\${pids%% $p *} \${pids#* $p }" ;; esac
        case "$late" in *" $p "*) late="\${late%% $p *} \${late#* $p }" ;; esac ;;
    =*) p="\${line#=}"
        case "$pids" in *" $p "*) pids="\${pids%% $p *} \${pids#* $p }" ;; esac
        late="$late$p " ;;
  esac
done
for p in $pids; do kill -KILL "-$p" 2>/dev/null; done
n=0
while [ $n -lt ${LATE_GRACE_TENTHS} ]; do
  alive=
  for p in $late; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ -z "$alive" ] && break
  sleep 0.1
  n=$((n + 1))
done
if [ -n "$alive" ]; then
  for p in $late; do kill -TERM "-$p" 2>/dev/null; done
  sleep 1
fi
for p in $late; do kill -KILL "-$p" 2>/dev/null; done
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

/** The group of a kernel that is exiting on its own: if we exit first, it gets a bounded grace (see above), then it is killed. */
export function letProcessGroupFinish(pgid: number): boolean {
  const w = ensure();
  if (!w?.stdin?.writable) return false;
  w.stdin.write(`=${pgid}\n`);
  return true;
}
