import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { parseProcStat } from '../../../server/db/lockHolder'

// Perl forks the command and waits for it only once its stdin closes: until then a killed command stays a zombie.
const PARENT = `
$| = 1;
my $pid = fork;
die "fork: $!" unless defined $pid;
if ($pid == 0) { open(STDIN, '<', '/dev/null'); exec(@ARGV) or die "exec: $!"; }
print "unreaped-pid $pid\\n";
<STDIN>;
waitpid($pid, 0);
exit($? & 127 ? 128 + ($? & 127) : $? >> 8);
`

export interface Unreaped {
  /** The Perl parent (our child). Its exit code is the command's (128 + signal when killed). */
  parent: ChildProcess
  /** The command's pid, once the parent has printed it. */
  pid: Promise<number>
  /** Everything the command and the parent printed so far (stdout and stderr). */
  output(): string
  /** Lets the parent reap the command (a zombie goes away) and exit. */
  reap(): void
}

/**
 * Runs `command` under a parent that does not reap it until `reap()`: a SIGKILLed command stays a zombie (state `Z`),
 * as a server does when its supervisor has not yet called `wait`. (Node reaps its own children at once, so a direct
 * child is a zombie only by chance.) Output is piped; `onOutput` sees every chunk.
 *
 * @example const server = spawnUnreaped(['sleep', '60']); process.kill(await server.pid, 'SIGKILL'); …; server.reap()
 */
export function spawnUnreaped(
  command: string[],
  options: SpawnOptions = {},
  onOutput?: (text: string) => void,
): Unreaped {
  const parent = spawn('perl', ['-e', PARENT, ...command], { ...options, stdio: ['pipe', 'pipe', 'pipe'] })
  let output = ''
  let resolvePid: (pid: number) => void
  let rejectPid: (error: Error) => void
  const pid = new Promise<number>((resolve, reject) => {
    resolvePid = resolve
    rejectPid = reject
  })
  const onData = (chunk: Buffer) => {
    const text = chunk.toString()
    output += text
    onOutput?.(text)
    const match = /unreaped-pid (\d+)/.exec(output)
    if (match) resolvePid(Number(match[1]))
  }
  parent.stdout!.on('data', onData)
  parent.stderr!.on('data', onData)
  parent.once('error', (error) => rejectPid(error))
  parent.once('exit', (code) =>
    rejectPid(new Error(`the parent exited with ${code} before naming its child: ${output}`)),
  )
  return { parent, pid, output: () => output, reap: () => void parent.stdin!.end() }
}

/** The state letter of `pid` in /proc (`Z` for a zombie); undefined when it is gone. */
export function procState(pid: number): string | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.state
  } catch {
    return undefined
  }
}
