/**
 * `bazaar users …`: account administration from the command line. Parsing, the password prompt
 * and the actions live here, apart from cli.ts, so tests run exactly what the command runs.
 * Passwords are never taken from argv (they would show in `ps` and shell history): they come
 * from standard input (`--password-stdin`) or a prompt without echo on a terminal.
 */
import { parseArgs } from 'node:util';
import {
  emailProblem,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  type UsersService,
} from '../modules/users/index.ts';
import { AppError } from '../shared/errors.ts';

export const USERS_USAGE =
  'bazaar users create-admin --email EMAIL [--name NAME] [--password-stdin]\n\n' +
  '  create-admin      makes the account with this email an admin: promotes it when it exists\n' +
  '                    (its password stays), creates it otherwise\n' +
  '  --email EMAIL     the account’s email address\n' +
  '  --name NAME       the name of a new account (default "Administrator")\n' +
  '  --password-stdin  reads a new account’s password from standard input (its first line);\n' +
  '                    without it the password is asked for, without echo, on the terminal\n' +
  `Passwords are ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters and never taken from the command line.`;

export class UsersUsageError extends Error {}

export type UsersRequest = Readonly<{
  action: 'create-admin';
  email: string;
  name: string;
  passwordStdin: boolean;
}>;

/** Parses the arguments after `users`; throws UsersUsageError with one sentence when they are wrong. */
export function parseUsersArgs(args: readonly string[]): UsersRequest {
  const [action, ...rest] = args;
  if (action === undefined) throw new UsersUsageError('say what to do: create-admin');
  if (action !== 'create-admin')
    throw new UsersUsageError(`unknown users command "${action}"; use create-admin`);
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      email: { type: 'string' },
      name: { type: 'string' },
      'password-stdin': { type: 'boolean', default: false },
      password: { type: 'string' },
    },
    allowPositionals: true,
  });
  if (values.password !== undefined) {
    throw new UsersUsageError(
      'passwords are not taken from the command line (shell history, ps); use --password-stdin or the prompt',
    );
  }
  if (positionals.length > 0) throw new UsersUsageError(`unexpected argument "${positionals[0]}"`);
  if (values.email === undefined) throw new UsersUsageError('--email is required');
  const problem = emailProblem(values.email);
  if (problem) throw new UsersUsageError(`--email ${problem}, not "${values.email}"`);
  const name = (values.name ?? 'Administrator').trim();
  if (name.length === 0 || [...name].length > 100) {
    throw new UsersUsageError('--name must be 1 to 100 characters');
  }
  return { action, email: values.email, name, passwordStdin: values['password-stdin'] ?? false };
}

export type PasswordSource = Readonly<{
  /** Everything on standard input (for --password-stdin). */
  readStdin(): Promise<string>;
  /** Asks on the terminal without echo; undefined when standard input is not a terminal. */
  prompt: ((question: string) => Promise<string>) | undefined;
}>;

/**
 * Runs a parsed request. Prints one line through `print` on success; throws AppError (or
 * UsersUsageError when the password cannot be asked for) with one sentence on failure.
 */
export async function runUsersRequest(
  users: Pick<UsersService, 'findUserByEmail' | 'setRole' | 'createAdmin'>,
  request: UsersRequest,
  passwords: PasswordSource,
  print: (line: string) => void,
): Promise<void> {
  const existing = await users.findUserByEmail(request.email);
  if (existing) {
    const note = request.passwordStdin ? ' (the password given on standard input was not used)' : '';
    if (existing.role === 'admin') {
      print(`${existing.email} is already an admin; nothing changed${note}`);
      return;
    }
    await users.setRole(existing.id, 'admin');
    print(
      `promoted ${existing.email} from ${existing.role} to admin; the password is unchanged${note}. ` +
        'Sessions already signed in get the role at their next sign-in.',
    );
    return;
  }
  const password = await newPassword(request, passwords);
  const admin = await users.createAdmin({ email: request.email, name: request.name, password });
  print(`created admin ${admin.email} (${admin.name}); sign in with that email and the password given`);
}

async function newPassword(request: UsersRequest, passwords: PasswordSource): Promise<string> {
  let password: string;
  if (request.passwordStdin) {
    password = (await passwords.readStdin()).split(/\r?\n/, 1)[0] ?? '';
  } else if (passwords.prompt) {
    password = await passwords.prompt(`password for ${request.email}: `);
    checkPassword(password);
    if ((await passwords.prompt('the same password again: ')) !== password) {
      throw new AppError('INVALID_INPUT', 'the two passwords differ; nothing was created');
    }
  } else {
    throw new UsersUsageError(
      'standard input is not a terminal, so there is no prompt: pipe the password with --password-stdin',
    );
  }
  checkPassword(password);
  return password;
}

function checkPassword(password: string): void {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH) {
    throw new AppError(
      'INVALID_INPUT',
      `the password must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters (it has ${length}); nothing was created`,
    );
  }
}

/** Reads all of a stream as UTF-8. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) text += chunk;
  return text;
}

/**
 * A prompt without echo on a terminal (raw mode): Enter ends it, Backspace deletes, Ctrl-C or
 * Ctrl-D on an empty line cancels. Undefined when `input` is not a terminal.
 */
export function terminalPrompt(
  input: NodeJS.ReadStream,
  output: NodeJS.WritableStream,
): ((question: string) => Promise<string>) | undefined {
  if (!input.isTTY) return undefined;
  return (question) =>
    new Promise((resolve, reject) => {
      let value = '';
      const finish = () => {
        input.off('data', onData);
        input.setRawMode(false);
        input.pause();
        output.write('\n');
      };
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n') {
            finish();
            resolve(value);
            return;
          }
          if (ch === '\u0003' || (ch === '\u0004' && value === '')) {
            finish();
            reject(new AppError('INVALID_INPUT', 'cancelled; nothing was created'));
            return;
          }
          if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
          else if (ch >= ' ') value += ch;
        }
      };
      output.write(question);
      input.setEncoding('utf8');
      input.setRawMode(true);
      input.resume();
      input.on('data', onData);
    });
}
