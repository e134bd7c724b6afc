/**
 * The built-in client recognizers, in the order normalizeError asks them.
 * Internal. Order matters only where two clients share a shape: the more
 * specific one comes first.
 *
 * @module
 */

import type { Recognizer } from "../recognizer.ts";
import { pg } from "./pg.ts";
import { postgresJs } from "./postgres_js.ts";
import { mysql2 } from "./mysql2.ts";
import { mongodb } from "./mongodb.ts";
import { ioredis } from "./ioredis.ts";
import { nodeRedis } from "./node_redis.ts";
import { bunSql } from "./bun_sql.ts";
import { bunRedis } from "./bun_redis.ts";
import { axios } from "./axios.ts";
import { got } from "./got.ts";
import { undici } from "./undici.ts";
import { nodeFetch } from "./node_fetch.ts";
import { ky } from "./ky.ts";
import { ws } from "./ws.ts";
import { grpc } from "./grpc.ts";
import { nodeHttp } from "./node_http.ts";

/** Every built-in client recognizer. */
export const CLIENT_RECOGNIZERS: readonly Recognizer[] = Object.freeze([
  pg,
  postgresJs,
  mysql2,
  mongodb,
  ioredis,
  nodeRedis,
  bunSql,
  bunRedis,
  axios,
  got,
  undici,
  nodeFetch,
  ky,
  ws,
  grpc,
  nodeHttp,
]);
