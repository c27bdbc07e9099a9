export { createSignedDataVerifier, type SignedDataVerifierOptions } from './verifier.js';
export { VerificationError, VERIFICATION_ERROR_CODES, type VerificationErrorCode } from './errors.js';
export { loadRootCertificates, DEFAULT_ROOT_CERTIFICATE_PATH } from './roots.js';
export { APPLE_INTERMEDIATE_MARKER_OID, APPLE_LEAF_MARKER_OID } from './chain.js';
