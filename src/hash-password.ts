import { hashPassword } from './core/password.js';

/**
 * `spo2 hash-password`: reads a password from stdin (hidden when typed at a terminal) and
 * prints the hash for `SPO2_BASIC_AUTH=user:<hash>`. Never from argv, where `ps` shows it.
 */
export async function hashPasswordCommand(stdin: NodeJS.ReadStream = process.stdin, out: NodeJS.WriteStream = process.stdout): Promise<number> {
  const password = stdin.isTTY ? await promptHidden(stdin) : (await readAll(stdin)).replace(/\r?\n$/, '');
  if (password === '') {
    process.stderr.write('spo2: empty password\n');
    return 2;
  }
  out.write((await hashPassword(password)) + '\n');
  return 0;
}

async function readAll(stdin: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function promptHidden(stdin: NodeJS.ReadStream): Promise<string> {
  process.stderr.write('password: ');
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve) => {
    let typed = '';
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          stdin.off('data', onData);
          stdin.setRawMode(false);
          stdin.pause();
          process.stderr.write('\n');
          resolve(typed);
          return;
        }
        if (ch === '\u0003') {
          stdin.setRawMode(false);
          process.exit(130);
        }
        typed = ch === '\u007f' || ch === '\b' ? typed.slice(0, -1) : typed + ch;
      }
    };
    stdin.on('data', onData);
  });
}
