/**
 * A real @grpc/grpc-js server on 127.0.0.1 with one unary method, and a
 * client for it, for the gRPC client tests and
 * scripts/capture_http_client_errors.ts. No .proto file: the method is
 * described by hand with JSON (de)serializers, which grpc-js accepts as a
 * service definition.
 *
 * The request's `mode` picks what the server does:
 * - `ok`: answers `{ ok: true }`;
 * - `stall`: never answers (until the client gives up or the server stops);
 * - `not_found` / `invalid`: fails with status 5 NOT_FOUND / 3 INVALID_ARGUMENT;
 * - `die`: the server is shut down by force while the call is in flight.
 */
import * as grpc from "@grpc/grpc-js";

/** The request of the one method. */
export interface EchoRequest {
  mode: "ok" | "stall" | "not_found" | "invalid" | "die";
}

const toJson = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const fromJson = (buffer: Buffer): unknown => JSON.parse(buffer.toString("utf8"));

/** The service definition: `/faultline.Test/Echo`, unary, JSON on the wire. */
export const TEST_SERVICE: grpc.ServiceDefinition = {
  echo: {
    path: "/faultline.Test/Echo",
    requestStream: false,
    responseStream: false,
    requestSerialize: toJson,
    requestDeserialize: fromJson,
    responseSerialize: toJson,
    responseDeserialize: fromJson,
  },
};

/** A client class for {@link TEST_SERVICE}. */
export const TestClient = grpc.makeGenericClientConstructor(TEST_SERVICE, "Test");

/** A {@link TestClient} instance. */
export type TestClientInstance = InstanceType<typeof TestClient> & {
  echo(
    request: EchoRequest,
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, response?: unknown) => void,
  ): grpc.ClientUnaryCall;
};

/**
 * A client for `target` (`host:port`) without credentials. Service-config
 * resolution is off so that a name lookup sends no TXT query to a
 * nameserver: a `.invalid` name then fails locally.
 */
export function testClient(target: string): TestClientInstance {
  return new TestClient(target, grpc.credentials.createInsecure(), {
    "grpc.service_config_disable_resolution": 1,
  }) as TestClientInstance;
}

/** Calls `echo` and resolves with the error it failed with (or rejects if it succeeded). */
export function callForError(
  client: TestClientInstance,
  request: EchoRequest,
  options: grpc.CallOptions = {},
  onCall?: (call: grpc.ClientUnaryCall) => void,
): Promise<grpc.ServiceError> {
  return new Promise((resolve, reject) => {
    const call = client.echo(request, options, (error) => {
      if (error) resolve(error);
      else reject(new Error("the call succeeded"));
    });
    onCall?.(call);
  });
}

/** A running server. */
export interface GrpcTestServer {
  readonly port: number;
  /** `127.0.0.1:<port>` */
  readonly target: string;
  /** Stops at once, failing every call in flight. */
  close(): Promise<void>;
}

/** Starts the server on an ephemeral port of 127.0.0.1. */
export function startGrpcServer(): Promise<GrpcTestServer> {
  const server = new grpc.Server();
  const stalled = new Set<grpc.sendUnaryData<unknown>>();
  server.addService(TEST_SERVICE, {
    echo(
      call: grpc.ServerUnaryCall<EchoRequest, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) {
      switch (call.request?.mode) {
        case "stall":
          stalled.add(callback);
          return;
        case "not_found":
          callback({ code: grpc.status.NOT_FOUND, details: "no such thing" });
          return;
        case "invalid":
          callback({ code: grpc.status.INVALID_ARGUMENT, details: "bad argument" });
          return;
        case "die":
          stalled.add(callback);
          setTimeout(() => server.forceShutdown(), 50);
          return;
        default:
          callback(null, { ok: true });
      }
    },
  });
  return new Promise((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
      if (error) return reject(error);
      resolve({
        port,
        target: `127.0.0.1:${port}`,
        close() {
          stalled.clear();
          server.forceShutdown();
          return Promise.resolve();
        },
      });
    });
  });
}
