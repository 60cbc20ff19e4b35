// Device profiles: schema-checked JSON (device-profiles/), device detection, profile choice and
// the routing plan the engine walks. See docs/BACKENDS.md, "Device profiles and routing".
export type { BackendSpec, DeviceProfile, LayerOp, LoadedProfile, OpGroup, ProfileMatch, Provider, ProviderOptionValue, RoutingRule, RoutingTable, SimdLevel } from './types.js';
export { OP_GROUPS, PROVIDERS } from './types.js';
export { ProfileError, type ProfileProblem } from './errors.js';
export { parseLayerSpec, selectLayers, type LayerItem } from './layers.js';
export { displayPath, loadProfile, loadProfiles, namedProfile, parseProfile, profileFiles, profileSchemaPath, profilesDir, routeProfile } from './load.js';
export { availableProviders, detectDevice, parseCpuinfo, systemFacts, wasmSimdSupport, type DeviceFacts, type FactSource } from './detect.js';
export { probeProviders, probeProvidersCached, type ProviderProbe } from './probe.js';
export { MATCH_WEIGHTS, pickProfile, scoreProfile, type ProfileCandidate, type ProfileChoice } from './pick.js';
export {
  describeRoutingPlan,
  entryBackend,
  planEntries,
  planRouting,
  ruleOps,
  sessionProvider,
  type LayerRoute,
  type ModelShape,
  type RouteEntry,
  type RoutingPlan,
} from './routing.js';
export { resolveSettings, type RuntimeSettings } from './settings.js';
