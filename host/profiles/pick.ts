// Which profile fits a device. Every field of a profile's `match` must hold; among the profiles
// that match, the most specific wins (a board model outweighs a required provider, which
// outweighs CPU flags, which outweigh arch/platform), then the higher `priority`, then the name.
import { availableProviders, type DeviceFacts } from './detect.js';
import type { DeviceProfile } from './types.js';

/** Points a satisfied match field adds to a profile's score. */
export const MATCH_WEIGHTS = { deviceModel: 16, provider: 4, cpuFeature: 1, arch: 1, platform: 1 } as const;

export interface ProfileCandidate<P extends DeviceProfile = DeviceProfile> {
  profile: P;
  matches: boolean;
  score: number;
  /** One line per match field: what held, or what did not. */
  reasons: string[];
}

export interface ProfileChoice<P extends DeviceProfile = DeviceProfile> {
  /** The chosen profile, or null when none matches. */
  profile: P | null;
  /** Every profile, best first: the chosen one, the other matches, then those that did not match. */
  candidates: ProfileCandidate<P>[];
  /** One paragraph: why this one. */
  explanation: string;
}

/** Scores one profile against a device. */
export function scoreProfile<P extends DeviceProfile>(device: DeviceFacts, profile: P): ProfileCandidate<P> {
  const m = profile.match;
  const reasons: string[] = [];
  let score = 0;
  let matches = true;
  const fail = (why: string) => {
    matches = false;
    reasons.push(`✗ ${why}`);
  };
  if (m.arch) {
    if (m.arch.includes(device.arch)) {
      score += MATCH_WEIGHTS.arch;
      reasons.push(`✓ arch ${device.arch}`);
    } else fail(`arch ${device.arch} is not ${m.arch.join(' or ')}`);
  }
  if (m.platform) {
    if (m.platform.includes(device.platform)) {
      score += MATCH_WEIGHTS.platform;
      reasons.push(`✓ platform ${device.platform}`);
    } else fail(`platform ${device.platform} is not ${m.platform.join(' or ')}`);
  }
  if (m.cpuFeatures) {
    if (device.cpuFeatures === null) {
      reasons.push(`? cpu features ${m.cpuFeatures.join(' ')} not checked (no /proc/cpuinfo)`);
    } else {
      const have = new Set(device.cpuFeatures);
      const missing = m.cpuFeatures.filter((f) => !have.has(f));
      if (missing.length === 0) {
        score += MATCH_WEIGHTS.cpuFeature * m.cpuFeatures.length;
        reasons.push(`✓ cpu features ${m.cpuFeatures.join(' ')}`);
      } else fail(`cpu lacks ${missing.join(' ')}`);
    }
  }
  if (m.deviceModel !== undefined) {
    if (device.deviceModel !== undefined && new RegExp(m.deviceModel, 'i').test(device.deviceModel)) {
      score += MATCH_WEIGHTS.deviceModel;
      reasons.push(`✓ device model "${device.deviceModel}" ~ /${m.deviceModel}/`);
    } else if (device.deviceModel === undefined) fail(`no device model (/proc/device-tree/model) to match /${m.deviceModel}/`);
    else fail(`device model "${device.deviceModel}" does not match /${m.deviceModel}/`);
  }
  if (m.providers) {
    const available = new Set(availableProviders(device));
    const missing = m.providers.filter((p) => !available.has(p));
    if (missing.length === 0) {
      score += MATCH_WEIGHTS.provider * m.providers.length;
      reasons.push(`✓ providers ${m.providers.join(' ')} initialise`);
    } else fail(`provider${missing.length > 1 ? 's' : ''} ${missing.join(' ')} not available`);
  }
  if (reasons.length === 0) reasons.push('✓ matches any device');
  return { profile, matches, score, reasons };
}

function byPreference(a: ProfileCandidate, b: ProfileCandidate): number {
  return (
    Number(b.matches) - Number(a.matches) ||
    b.score - a.score ||
    (b.profile.priority ?? 0) - (a.profile.priority ?? 0) ||
    a.profile.name.localeCompare(b.profile.name)
  );
}

/** Picks the best-matching profile for a device, and says why. */
export function pickProfile<P extends DeviceProfile>(device: DeviceFacts, profiles: readonly P[]): ProfileChoice<P> {
  const candidates = profiles.map((p) => scoreProfile(device, p)).sort(byPreference);
  const best = candidates[0]?.matches ? candidates[0] : undefined;
  if (!best) {
    return {
      profile: null,
      candidates,
      explanation: `no profile matches this device (${device.arch}/${device.platform}${device.deviceModel ? `, "${device.deviceModel}"` : ''}); name one with --profile`,
    };
  }
  const runnerUp = candidates[1]?.matches ? candidates[1] : undefined;
  let why = `${best.profile.name}: score ${best.score} (${best.reasons.filter((r) => r.startsWith('✓')).map((r) => r.slice(2)).join('; ')})`;
  if (runnerUp) {
    const tie = runnerUp.score === best.score;
    why += tie
      ? `; ties ${runnerUp.profile.name} at ${best.score}, ${(best.profile.priority ?? 0) !== (runnerUp.profile.priority ?? 0) ? `wins on priority ${best.profile.priority ?? 0} > ${runnerUp.profile.priority ?? 0}` : 'wins on name order'}`
      : `; next best ${runnerUp.profile.name} scores ${runnerUp.score}`;
  }
  return { profile: best.profile, candidates, explanation: why };
}
