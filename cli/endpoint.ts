/**
 * @module cli/endpoint
 * Where fleetctl sends its requests: fleet's `--endpoint` forms (`unix:///path`, `file:///path`,
 * `http://host:port`, `https://host:port`, a comma-separated list of which the first is used),
 * the TLS files for https, and fleet-ts's bearer token for the TCP API.
 */
import { readFileSync } from "node:fs";
import { EndpointError } from "./errors.js";

export const DEFAULT_ENDPOINT = "unix:///var/run/fleet.sock";

export interface Endpoint {
  /** As the user gave it (first of a list), for messages. */
  readonly display: string;
  /** Set for unix sockets. */
  readonly socketPath?: string;
  /** `http:` or `https:` */
  readonly protocol: "http:" | "https:";
  /** host[:port] for TCP; "domain-sock" for a unix socket, as fleet's client named it. */
  readonly host: string;
  readonly tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  readonly token?: string;
}

export interface EndpointSettings {
  readonly endpoint: string;
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly tokenFile?: string;
}

function readSetting(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new EndpointError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

/** Resolves the settings into an endpoint; `warn` hears about ignored extra endpoints. */
export function resolveEndpoint(s: EndpointSettings, warn: (msg: string) => void): Endpoint {
  const all = s.endpoint.split(",");
  const first = (all[0] ?? "").trim();
  if (all.length > 1) warn(`multiple endpoints provided but only the first (${first}) is used`);
  let url: URL;
  try {
    url = new URL(first);
  } catch {
    throw new EndpointError(
      `invalid endpoint ${JSON.stringify(first)}: use unix:///path/to/fleet.sock, http://host:port or https://host:port`,
    );
  }
  let token: string | undefined;
  if (s.tokenFile !== undefined && s.tokenFile !== "") {
    token = readSetting(s.tokenFile, "token file").toString("utf8").trim();
    if (token === "") throw new EndpointError(`token file ${s.tokenFile} is empty`);
  }
  if (url.protocol === "unix:" || url.protocol === "file:") {
    // "unix://var/run/fleet.sock" (two slashes) names host "var": fleet refused it too.
    if (url.host !== "") {
      throw new EndpointError(
        `unable to connect to host ${JSON.stringify(url.host)} with scheme ${JSON.stringify(url.protocol.slice(0, -1))}: write the socket path with three slashes, e.g. unix:///var/run/fleet.sock`,
      );
    }
    return {
      display: first,
      socketPath: decodeURIComponent(url.pathname),
      protocol: "http:",
      host: "domain-sock",
      ...(token === undefined ? {} : { token }),
    };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new EndpointError(
      `unsupported endpoint scheme ${JSON.stringify(url.protocol.slice(0, -1))} in ${first}: use unix://, http:// or https://`,
    );
  }
  const tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  if (s.caFile) tls.ca = readSetting(s.caFile, "CA file");
  if (s.certFile) tls.cert = readSetting(s.certFile, "cert file");
  if (s.keyFile) tls.key = readSetting(s.keyFile, "key file");
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new EndpointError("--cert-file and --key-file must be given together");
  }
  if (url.protocol === "http:" && Object.keys(tls).length > 0) {
    throw new EndpointError(
      `TLS files given but the endpoint ${first} is plain http: use https://`,
    );
  }
  return {
    display: first,
    protocol: url.protocol,
    host: url.host,
    ...(Object.keys(tls).length > 0 ? { tls } : {}),
    ...(token === undefined ? {} : { token }),
  };
}
