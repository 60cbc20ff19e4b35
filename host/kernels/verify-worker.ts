// The verifier's thread: runs ./verify.ts's checks (compile, canary, timing included) off the serving
// path, one candidate at a time, and posts the verdict back (a compiled module travels with it).
import { createPublicKey } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { VerifyJob } from './verifier.js';
import { verifyCandidate } from './verify.js';

parentPort?.on('message', (job: VerifyJob) => {
  const keys = job.keys.map((k) => ({ id: k.id, path: k.path, key: createPublicKey(k.pem) }));
  verifyCandidate(job.candidate, job.rules, job.policy, keys, job.trusted, job.active, job.path).then(
    (verdict) => parentPort?.postMessage({ id: job.id, verdict }),
    (err: Error) => parentPort?.postMessage({ id: job.id, error: err.message }),
  );
});
