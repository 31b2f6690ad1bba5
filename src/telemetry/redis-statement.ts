// db.query.text of Redis command spans (instrumentation-ioredis's `dbStatementSerializer`).
//
// The instrumentation's default keeps *every* argument of EVAL, EVALSHA and FCALL. BullMQ runs
// every queue operation as a Lua script, so each enqueue span of an upload carried the job's data
// as JSON and its msgpack-packed options (binary, decoded as text), and the EVAL that follows a
// NOSCRIPT reply carried the script's whole source (kilobytes of Lua). Script calls keep the script
// (its SHA1 or function name; never the source), the key count and the keys, which name the queue
// and the lists the script touched; the values become "[N other arguments]", as the default does
// for the values of SET or HSET. Every other command keeps the default's subset.
import { defaultDbStatementSerializer } from '@opentelemetry/redis-common';
import type { CommandArgs } from '@opentelemetry/instrumentation-ioredis';

const SCRIPT_COMMAND = /^(?:eval|evalsha|fcall)(?:_ro)?$/i;
const SOURCE_COMMAND = /^eval(?:_ro)?$/i;

/** Text of one Redis command for its span: script calls without their values or source. */
export function redisStatement(cmdName: string, cmdArgs: CommandArgs): string {
  if (!SCRIPT_COMMAND.test(cmdName) || !Array.isArray(cmdArgs) || cmdArgs.length < 2) return defaultDbStatementSerializer(cmdName, cmdArgs);
  const declared = Number(cmdArgs[1]);
  const keys = Number.isInteger(declared) && declared > 0 ? Math.min(declared, cmdArgs.length - 2) : 0;
  let text = `${cmdName} ${SOURCE_COMMAND.test(cmdName) ? '[script]' : String(cmdArgs[0])} ${String(cmdArgs[1])}`;
  for (let i = 2; i < 2 + keys; i++) text += ` ${String(cmdArgs[i])}`;
  const others = cmdArgs.length - 2 - keys;
  if (others > 0) text += ` [${others} other arguments]`;
  return text;
}
