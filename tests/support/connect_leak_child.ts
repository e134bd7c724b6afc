// Run by tests/leak_test.ts: every way connect() can fail, many times, with
// one long-lived signal; then nothing may keep the process alive, and the
// signal must hold no listener of ours.
import { connect } from "../../mod.ts";
import { closedPort, startFaultServer, startStalledListener, UNRESOLVABLE_HOST } from "./faults.ts";

let listeners = 0;
const controller = new AbortController();
const signal = controller.signal;
const add = signal.addEventListener.bind(signal);
const remove = signal.removeEventListener.bind(signal);
signal.addEventListener = ((...args: Parameters<typeof add>) => {
  listeners++;
  return add(...args);
}) as typeof add;
signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
  listeners--;
  return remove(...args);
}) as typeof remove;

const faults = await startFaultServer();
const stalled = await startStalledListener();
const port = await closedPort();
const swallow = () => {};

for (let i = 0; i < 50; i++) {
  await connect({ hostname: "127.0.0.1", port, signal, timeout: 5000 }).catch(swallow);
  await connect({
    hostname: "127.0.0.1",
    port: faults.ports.plainText,
    tls: true,
    signal,
    timeout: 5000,
  })
    .catch(swallow);
  const conn = await connect({
    hostname: "127.0.0.1",
    port: faults.ports.echo,
    signal,
    timeout: 5000,
  });
  await conn.close();
}
await connect({ hostname: UNRESOLVABLE_HOST, port: 80, signal }).catch(swallow);
// Fill the stalled listener's backlog, then time out for real.
const held = [];
for (let i = 0; i < 16; i++) {
  try {
    held.push(await connect({ hostname: "127.0.0.1", port: stalled.ports.stall, timeout: 200 }));
  } catch {
    break;
  }
}
await Promise.all(held.map((c) => c.close()));
const own = new AbortController();
const pending = connect({ hostname: "127.0.0.1", port: faults.ports.silent, signal: own.signal });
own.abort();
await pending.then((c) => c.close(), swallow);

if (listeners !== 0) {
  console.error(`${listeners} abort listeners left on the shared signal`);
  // Exit with a failure rather than hang, so the test names the leak.
  (globalThis as { process?: { exitCode?: number } }).process!.exitCode = 1;
}
await faults.stop();
await stalled.stop();
console.log("leak child done");
