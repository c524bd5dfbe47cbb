/**
 * A throwaway RSA key for the app under test (`PRIVATE_KEY`), made once per process. GitHub hands apps
 * PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"), so the key is exported the same way; the GitHub double accepts
 * any JWT, so the public half is kept only for tests that want to verify signatures.
 */
import { generateKeyPairSync } from "node:crypto";

const { privateKey, publicKey } = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs1", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
});

export const TEST_PRIVATE_KEY: string = privateKey;
export const TEST_PUBLIC_KEY: string = publicKey;
