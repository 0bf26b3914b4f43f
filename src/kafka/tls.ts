/**
 * TLS failures, told apart and explained: librdkafka reports a broker certificate it cannot
 * verify, or a broker that refuses the client's certificate, as a transport error it retries
 * for ever, and a client key it cannot read as a bare OpenSSL code. This module recognises those
 * texts and says what went wrong and what to check, so that the client can end at once (see
 * `client.ts`). Which of the causes a certificate failure has (another CA, expired, another host
 * name) librdkafka does not say; when the process may open network connections itself, a TLS
 * handshake of Deno's own with the same CA file names it.
 *
 * @module
 */

import type { KafkaConfig } from "./config.ts";

/** How long the handshake that names a certificate problem may take. */
const DIAGNOSIS_TIMEOUT_MS = 3_000;

/** What kind of TLS failure an error text describes. */
export type TlsFailure = "broker-certificate" | "client-certificate";

/**
 * Which TLS failure a librdkafka error text describes: the broker's certificate failed
 * verification, or the broker refused the client's certificate (or its absence); `undefined`
 * for any other text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tlsFailure } from "./tls.ts";
 *
 * assert.equal(
 *   tlsFailure("ssl://h:9093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed"),
 *   "broker-certificate",
 * );
 * assert.equal(tlsFailure("Receive failed: SSL routines::sslv3 alert bad certificate"), "client-certificate");
 * assert.equal(tlsFailure("Connect to ipv4#127.0.0.1:1 failed: Connection refused"), undefined);
 * ```
 */
export function tlsFailure(text: string): TlsFailure | undefined {
  if (/certificate verify failed/i.test(text)) return "broker-certificate";
  if (/alert (bad certificate|certificate required|unknown ca|certificate unknown)/i.test(text)) {
    return "client-certificate";
  }
  return undefined;
}

function configured(config: KafkaConfig, name: string): string | undefined {
  const value = config[name];
  return value === undefined || String(value) === "" ? undefined : String(value);
}

/**
 * The message for a TLS failure with the broker at `bootstrap`, without librdkafka's text
 * (the caller appends it): what failed, the likely causes, and which settings to check.
 * `reason`, when known, is what a handshake of Ferry's own found wrong with the certificate.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tlsFailureMessage } from "./tls.ts";
 *
 * const message = tlsFailureMessage("client-certificate", { "security.protocol": "SSL" }, "h:9093");
 * assert.match(message, /refused the TLS connection: it requires a client certificate/);
 * ```
 */
export function tlsFailureMessage(
  kind: TlsFailure,
  config: KafkaConfig,
  bootstrap: string,
  reason?: string,
): string {
  const protocol = String(config["security.protocol"] ?? "SSL").toUpperCase();
  const at = `the Kafka broker at "${bootstrap}" (${protocol})`;
  if (kind === "client-certificate") {
    const cert = configured(config, "ssl.certificate.location");
    return cert === undefined
      ? `TLS failed: ${at} refused the TLS connection: it requires a client certificate and ` +
        "this client has none (set ssl.certificate.location and ssl.key.location)"
      : `TLS failed: ${at} refused the TLS connection: it does not accept the client ` +
        `certificate "${cert}" (ssl.certificate.location; is it signed by a CA the broker trusts?)`;
  }
  const ca = configured(config, "ssl.ca.location");
  const trusted = ca === undefined ? "the system's CA certificates" : `ssl.ca.location "${ca}"`;
  const head = `TLS failed: the certificate of ${at} could not be verified`;
  if (reason !== undefined) return `${head}: ${reason} (checked against ${trusted})`;
  return `${head} against ${trusted}: it is signed by another CA, has expired or is not valid ` +
    "yet, or does not name the host in bootstrap.servers (hostname verification, " +
    "ssl.endpoint.identification.algorithm=https)";
}

/**
 * Says in a few words what a certificate error from Deno's TLS means, such as
 * `"the certificate has expired"`; the error's own text when it is none of the known ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { certificateProblem } from "./tls.ts";
 *
 * assert.equal(certificateProblem("invalid peer certificate: UnknownIssuer"),
 *   "it is not signed by the CA in ssl.ca.location (unknown issuer)");
 * ```
 */
export function certificateProblem(text: string): string {
  const detail = text.replace(/^.*invalid peer certificate: /s, "");
  if (/expired/i.test(detail)) return `the certificate has expired (${detail})`;
  if (/not valid yet|NotValidYet/i.test(detail)) {
    return `the certificate is not valid yet (${detail})`;
  }
  if (/not valid for name|NotValidForName/i.test(detail)) {
    return `the certificate does not name the host Ferry connects to (${detail})`;
  }
  if (/UnknownIssuer|unknown issuer/i.test(detail)) {
    return "it is not signed by the CA in ssl.ca.location (unknown issuer)";
  }
  return detail;
}

/**
 * Finds out why the broker's certificate fails verification, with a TLS handshake of Deno's own
 * to the first bootstrap address, trusting the same CA file; `undefined` when it cannot tell:
 * the process may not open that connection (no `--allow-net` for it: never prompted), the CA
 * file cannot be read, or the handshake succeeds or fails for another reason.
 */
export async function diagnoseBrokerCertificate(
  config: KafkaConfig,
  bootstrap: string,
): Promise<string | undefined> {
  const first = bootstrap.split(",")[0].trim().replace(/^[a-z_]+:\/\//i, "");
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(first);
  if (match === null) return undefined;
  const [, hostname, port] = match;
  try {
    const net = Deno.permissions.querySync({ name: "net", host: `${hostname}:${port}` });
    if (net.state !== "granted") return undefined;
    const ca = configured(config, "ssl.ca.location");
    const caCerts = ca === undefined ? undefined : [await Deno.readTextFile(ca)];
    const connecting = Deno.connectTls({ hostname, port: Number(port), caCerts });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), DIAGNOSIS_TIMEOUT_MS);
    });
    try {
      const connection = await Promise.race([connecting, timeout]);
      if (connection === undefined) {
        connecting.then((c) => c.close(), () => {});
        return undefined;
      }
      try {
        await Promise.race([connection.handshake(), timeout]);
      } finally {
        connection.close();
      }
      return undefined; // Deno accepts it: librdkafka's reason is something else.
    } finally {
      clearTimeout(timer);
    }
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    return /invalid peer certificate/i.test(text) ? certificateProblem(text) : undefined;
  }
}

/**
 * The message for a client that librdkafka could not create because a TLS file would not load
 * (`ssl.key.location failed: ...`), or `undefined` for any other reason.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tlsFileMessage } from "./tls.ts";
 *
 * const message = tlsFileMessage("ssl.key.location failed: error:0A080009:SSL routines::PEM lib", {
 *   "ssl.key.location": "/etc/ferry/client.key",
 * });
 * assert.match(message ?? "", /client key "\/etc\/ferry\/client.key".*ssl.key.password is wrong/);
 * ```
 */
export function tlsFileMessage(text: string, config: KafkaConfig): string | undefined {
  const match = /^(ssl\.[a-z.]+\.location) failed: (.*)$/s.exec(text.trim());
  if (match === null) return undefined;
  const [, property, detail] = match;
  const file = configured(config, property) ?? "";
  const what = property === "ssl.key.location"
    ? "client key"
    : property === "ssl.certificate.location"
    ? "client certificate"
    : property === "ssl.ca.location"
    ? "CA certificate"
    : "file";
  const missing = /system lib|No such file/i.test(detail);
  let why: string;
  if (missing) why = "the file is missing or cannot be read";
  else if (property === "ssl.key.location") {
    why = "ssl.key.password is wrong or missing, or the file is not a PEM private key";
  } else why = "the file is not in PEM format";
  return `TLS failed: could not load the ${what} "${file}" (${property}): ${why} (${detail})`;
}
