import assert from "node:assert/strict";
import { certificateProblem, tlsFailure, tlsFailureMessage, tlsFileMessage } from "./tls.ts";

Deno.test("tlsFailure tells a broker certificate from a refused client certificate", () => {
  assert.equal(
    tlsFailure("ssl://h:1/bootstrap: error:0A000086:SSL routines::certificate verify failed"),
    "broker-certificate",
  );
  for (const alert of ["bad certificate", "certificate required", "unknown ca"]) {
    assert.equal(
      tlsFailure(`Receive failed: SSL routines::sslv3 alert ${alert}`),
      "client-certificate",
    );
  }
  assert.equal(tlsFailure("Disconnected (after 0ms in state UP)"), undefined);
});

Deno.test("tlsFailureMessage names the CA file, the client certificate, or the system's CAs", () => {
  const config = { "security.protocol": "sasl_ssl", "ssl.ca.location": "/etc/ca.pem" };
  assert.equal(
    tlsFailureMessage("broker-certificate", config, "k:9093", "the certificate has expired"),
    'TLS failed: the certificate of the Kafka broker at "k:9093" (SASL_SSL) could not be ' +
      'verified: the certificate has expired (checked against ssl.ca.location "/etc/ca.pem")',
  );
  assert.match(
    tlsFailureMessage("broker-certificate", {}, "k:9093"),
    /against the system's CA certificates: it is signed by another CA, has expired/,
  );
  assert.match(
    tlsFailureMessage("client-certificate", { "ssl.certificate.location": "/c.pem" }, "k:9094"),
    /does not accept the client certificate "\/c\.pem"/,
  );
});

Deno.test("certificateProblem turns Deno's certificate errors into words", () => {
  assert.match(
    certificateProblem("invalid peer certificate: certificate expired: ..."),
    /^the certificate has expired/,
  );
  assert.match(
    certificateProblem('invalid peer certificate: certificate not valid for name "h"'),
    /^the certificate does not name the host/,
  );
  assert.match(
    certificateProblem("invalid peer certificate: NotValidYet"),
    /^the certificate is not valid yet/,
  );
  assert.equal(certificateProblem("invalid peer certificate: BadSignature"), "BadSignature");
});

Deno.test("tlsFileMessage: a missing file, a wrong key password, a certificate that is not PEM", () => {
  const config = {
    "ssl.key.location": "/k.key",
    "ssl.certificate.location": "/c.pem",
    "ssl.ca.location": "/ca.pem",
  };
  assert.match(
    tlsFileMessage("ssl.key.location failed: error:0A080002:SSL routines::system lib", config)!,
    /client key "\/k\.key" \(ssl\.key\.location\): the file is missing or cannot be read/,
  );
  assert.match(
    tlsFileMessage("ssl.key.location failed: error:0A080009:SSL routines::PEM lib", config)!,
    /ssl\.key\.password is wrong or missing/,
  );
  assert.match(
    tlsFileMessage(
      "ssl.certificate.location failed: error:0A080009:SSL routines::PEM lib",
      config,
    )!,
    /client certificate "\/c\.pem" \(ssl\.certificate\.location\): the file is not in PEM format/,
  );
  assert.equal(tlsFileMessage("No such configuration property", config), undefined);
});
