// A child process that serves misbehaving database endpoints on 127.0.0.1, so
// that every runtime under test meets the very same faults on the wire. Always
// run by the Node from node_modules (resetAndDestroy is Node's); prints its
// ports as one JSON line and exits when its stdin closes (or after 120 s).
// Started by tests/support/db_faults.ts.
//
// Raw faults (any protocol): `rst` accepts then sends an RST at once; `fin`
// accepts then closes (FIN) at once; `rstOnData` / `finOnData` wait for the
// client's first bytes (a startup message, a command) then RST / FIN;
// `stall` accepts, reads and never answers.
//
// A minimal MySQL server (handshake v10, mysql_native_password, any password
// accepted) for mysql2: `mysqlSyntax` answers every query with ERR 1064,
// `mysqlDenied` refuses the login with ERR 1045, `mysqlRst` / `mysqlFin` /
// `mysqlStall` log in, then RST / FIN / stay silent on the first query.
//
// A minimal MongoDB server (OP_QUERY/OP_MSG `hello`, standalone, wire
// version 21) for mongodb: `mongoRst` / `mongoFin` / `mongoStall` answer
// hello, then RST / FIN / stay silent on the first other command;
// `mongoCmdError` answers it with `{ ok: 0, code: 59 }`; `mongoAuthFail`
// answers saslStart with code 18 AuthenticationFailed.
import * as net from "node:net";
import process from "node:process";
import { BSON } from "bson";

type Handler = (socket: net.Socket) => void;
const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();

function listen(handler: Handler): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      socket.on("error", () => {});
      handler(socket);
    });
    servers.push(server);
    server.listen(
      { host: "127.0.0.1", port: 0 },
      () => resolve((server.address() as net.AddressInfo).port),
    );
  });
}

// ---------------------------------------------------------------- MySQL ----

function mysqlPacket(seq: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUIntLE(payload.length, 0, 3);
  head[3] = seq & 0xff;
  return Buffer.concat([head, payload]);
}

function mysqlGreeting(): Buffer {
  const caps = 0x0001 | 0x0008 | 0x0200 | 0x2000 | 0x8000 | 0x80000; // LONG_PASSWORD CONNECT_WITH_DB PROTOCOL_41 TRANSACTIONS SECURE_CONNECTION PLUGIN_AUTH
  const scramble = Buffer.from("abcdefghijklmnopqrst");
  return Buffer.concat([
    Buffer.from([10]),
    Buffer.from("8.0.99-faultline\0"),
    Buffer.from([1, 0, 0, 0]),
    scramble.subarray(0, 8),
    Buffer.from([0]),
    Buffer.from([caps & 0xff, (caps >> 8) & 0xff]),
    Buffer.from([0x21, 0x02, 0x00]),
    Buffer.from([(caps >> 16) & 0xff, (caps >> 24) & 0xff]),
    Buffer.from([21]),
    Buffer.alloc(10),
    scramble.subarray(8),
    Buffer.from([0]),
    Buffer.from("mysql_native_password\0"),
  ]);
}

const MYSQL_OK = Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);

function mysqlErr(code: number, state: string, message: string): Buffer {
  const b = Buffer.alloc(3);
  b[0] = 0xff;
  b.writeUInt16LE(code, 1);
  return Buffer.concat([b, Buffer.from("#" + state + message)]);
}

type MysqlMode = "syntax" | "denied" | "rst" | "fin" | "stall";

function mysqlServer(mode: MysqlMode): Handler {
  return (socket) => {
    socket.write(mysqlPacket(0, mysqlGreeting()));
    let buf = Buffer.alloc(0);
    let loggedIn = false;
    socket.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4) {
        const len = buf.readUIntLE(0, 3);
        if (buf.length < 4 + len) return;
        const seq = buf[3];
        const payload = buf.subarray(4, 4 + len);
        buf = buf.subarray(4 + len);
        if (!loggedIn) {
          loggedIn = true;
          if (mode === "denied") {
            socket.end(
              mysqlPacket(
                seq + 1,
                mysqlErr(
                  1045,
                  "28000",
                  "Access denied for user 'faultline'@'localhost' (using password: YES)",
                ),
              ),
            );
            return;
          }
          socket.write(mysqlPacket(seq + 1, MYSQL_OK));
          continue;
        }
        if (payload[0] === 0x01) { // COM_QUIT
          socket.end();
          return;
        }
        if (payload[0] === 0x0e) { // COM_PING
          socket.write(mysqlPacket(seq + 1, MYSQL_OK));
          continue;
        }
        switch (mode) {
          case "syntax":
            socket.write(
              mysqlPacket(
                seq + 1,
                mysqlErr(
                  1064,
                  "42000",
                  "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near 'SELEKT 1' at line 1",
                ),
              ),
            );
            continue;
          case "rst":
            socket.resetAndDestroy();
            return;
          case "fin":
            socket.end();
            return;
          default:
            return;
        }
      }
    });
  };
}

// -------------------------------------------------------------- MongoDB ----

const OP_REPLY = 1, OP_QUERY = 2004, OP_MSG = 2013;
let nextRequestId = 1;

function mongoReply(opCode: number, responseTo: number, doc: Record<string, unknown>): Buffer {
  const body = Buffer.from(BSON.serialize(doc));
  let rest: Buffer;
  if (opCode === OP_QUERY) {
    rest = Buffer.alloc(20); // responseFlags, cursorID (8), startingFrom, numberReturned
    rest.writeInt32LE(1, 16);
    rest = Buffer.concat([rest, body]);
  } else {
    rest = Buffer.concat([Buffer.alloc(5), body]); // flagBits, section kind 0
  }
  const head = Buffer.alloc(16);
  head.writeInt32LE(16 + rest.length, 0);
  head.writeInt32LE(nextRequestId++, 4);
  head.writeInt32LE(responseTo, 8);
  head.writeInt32LE(opCode === OP_QUERY ? OP_REPLY : OP_MSG, 12);
  return Buffer.concat([head, rest]);
}

function mongoCommand(opCode: number, body: Buffer): Record<string, unknown> {
  if (opCode === OP_MSG) return BSON.deserialize(body.subarray(5)) as Record<string, unknown>;
  // OP_QUERY: flags, cstring collection, skip, return, query document.
  const end = body.indexOf(0, 4);
  return BSON.deserialize(body.subarray(end + 9)) as Record<string, unknown>;
}

const HELLO = () => ({
  helloOk: true,
  ismaster: true,
  isWritablePrimary: true,
  maxBsonObjectSize: 16777216,
  maxMessageSizeBytes: 48000000,
  maxWriteBatchSize: 100000,
  localTime: new Date(),
  logicalSessionTimeoutMinutes: 30,
  connectionId: 1,
  minWireVersion: 0,
  maxWireVersion: 21,
  readOnly: false,
  ok: 1,
});

type MongoMode = "rst" | "fin" | "stall" | "cmdError" | "authFail";

function mongoServer(mode: MongoMode): Handler {
  return (socket) => {
    let buf = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 16) {
        const len = buf.readInt32LE(0);
        if (buf.length < len) return;
        const requestId = buf.readInt32LE(4);
        const opCode = buf.readInt32LE(12);
        const body = buf.subarray(16, len);
        buf = buf.subarray(len);
        const cmd = mongoCommand(opCode, body);
        const name = Object.keys(cmd)[0]?.toLowerCase() ?? "";
        if (name === "hello" || name === "ismaster") {
          socket.write(mongoReply(opCode, requestId, HELLO()));
          continue;
        }
        if (name === "endsessions") {
          socket.write(mongoReply(opCode, requestId, { ok: 1 }));
          continue;
        }
        switch (mode) {
          case "cmdError":
            socket.write(mongoReply(opCode, requestId, {
              ok: 0,
              code: 59,
              codeName: "CommandNotFound",
              errmsg: `no such command: '${Object.keys(cmd)[0]}'`,
            }));
            continue;
          case "authFail":
            socket.write(
              mongoReply(
                opCode,
                requestId,
                name === "saslstart"
                  ? {
                    ok: 0,
                    code: 18,
                    codeName: "AuthenticationFailed",
                    errmsg: "Authentication failed.",
                  }
                  : { ok: 1 },
              ),
            );
            continue;
          case "rst":
            socket.resetAndDestroy();
            return;
          case "fin":
            socket.end();
            return;
          default:
            return;
        }
      }
    });
  };
}

// ----------------------------------------------------------------- main ----

const ports = {
  rst: await listen((s) => s.resetAndDestroy()),
  fin: await listen((s) => s.end()),
  rstOnData: await listen((s) => s.once("data", () => s.resetAndDestroy())),
  finOnData: await listen((s) => {
    s.once("data", () => s.end());
  }),
  stall: await listen((s) => s.resume()),
  mysqlSyntax: await listen(mysqlServer("syntax")),
  mysqlDenied: await listen(mysqlServer("denied")),
  mysqlRst: await listen(mysqlServer("rst")),
  mysqlFin: await listen(mysqlServer("fin")),
  mysqlStall: await listen(mysqlServer("stall")),
  mongoRst: await listen(mongoServer("rst")),
  mongoFin: await listen(mongoServer("fin")),
  mongoStall: await listen(mongoServer("stall")),
  mongoCmdError: await listen(mongoServer("cmdError")),
  mongoAuthFail: await listen(mongoServer("authFail")),
};
process.stdout.write(JSON.stringify(ports) + "\n");
const quit = () => {
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
  process.exit(0);
};
process.stdin.on("end", quit);
process.stdin.resume();
setTimeout(quit, 120_000).unref();
