export { APPLE_INTERMEDIATE_MARKER_OID, APPLE_LEAF_MARKER_OID } from './chain.js';
export { VERIFICATION_ERROR_CODES, VerificationError, type VerificationErrorCode } from './errors.js';
export { readUnverifiedPayload } from './jws.js';
export { DEFAULT_ROOT_CERTIFICATE_PATH, loadRootCertificates } from './roots.js';
export {
  type AppRoutingVerifier,
  createSignedDataVerifier,
  createVerifierFamily,
  type SignedDataVerifierOptions,
  type VerifierFamily,
  type VerifierFamilyOptions,
  type VerifierIdentity,
} from './verifier.js';
