// `wisp profile detect | show | validate`: which device profile this machine gets and why, the
// routing plan a profile makes for a model, and checking profile files.
import { configFromGGUF } from '../model/llama/config.js';
import { GGUFHeaderView } from '../model/gguf/index.js';
import { formatBytes } from '../obs/progress.js';
import {
  namedProfile,
  availableProviders,
  describeRoutingPlan,
  detectDevice,
  displayPath,
  loadProfile,
  loadProfiles,
  pickProfile,
  planRouting,
  profileFiles,
  profilesDir,
  PROVIDERS,
  ProfileError,
  resolveSettings,
  systemFacts,
  type DeviceFacts,
  type LoadedProfile,
  type ProviderProbe,
  type RuntimeSettings,
} from '../profiles/index.js';
import { chooseKernels, type KernelChoice } from '../kernels/choose.js';
import { intOption, parseOptions, UsageError } from './args.js';
import { MODEL_HELP, resolveModelOption } from './model-option.js';

const HELP = `usage: wisp profile <detect|show|validate> [options]

  detect               this device's facts (arch, CPU flags, board model, memory, which ONNX
                       Runtime providers initialise), the profile chosen for it, with why, and the
                       kernel flavour each family runs on this runtime and CPU, with why
  show                 the routing plan: the backend of each layer's attention and ffn, and the head
  validate [FILE...]   check profile files against the schema (default: every shipped profile);
                       with --model or --layers, also their layer specs against that model

options:
  -p, --profile NAME|PATH   (show) a profile by name or file instead of the detected one
${MODEL_HELP}
                          (show, validate) the layer count comes from the GGUF header
      --layers N          (show, validate) plan for N layers instead of reading a model
      --providers LIST    (detect, show) take these providers as available (comma-separated,
                          e.g. cpu,cuda) instead of probing ONNX Runtime
      --profiles DIR      look for profiles in DIR instead of device-profiles/
      --json              print JSON`;

const OPTIONS = {
  profile: { type: 'string', short: 'p' },
  model: { type: 'string', short: 'm' },
  layers: { type: 'string' },
  providers: { type: 'string' },
  profiles: { type: 'string' },
  json: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseOptions<typeof OPTIONS>>['values'];

export async function main(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseOptions(argv, OPTIONS, HELP, true);
  const [sub, ...files] = positionals;
  const only = (allowed: string[], given: Array<keyof Values>) => {
    for (const k of given) if (v[k] !== undefined && !allowed.includes(k)) throw new UsageError(`--${k} does not apply to 'wisp profile ${sub}'\n\n${HELP}`);
  };
  if (sub !== 'validate' && files.length > 0) throw new UsageError(`unexpected argument '${files[0]}'\n\n${HELP}`);
  switch (sub) {
    case 'detect':
      only(['providers', 'profiles', 'json'], ['profile', 'model', 'layers']);
      return detect(v);
    case 'show':
      return show(v);
    case 'validate':
      only(['model', 'layers', 'profiles', 'json'], ['profile', 'providers']);
      return validate(v, files);
    case undefined:
      throw new UsageError(`which one: detect, show or validate?\n\n${HELP}`);
    default:
      throw new UsageError(`unknown subcommand '${sub}'\n\n${HELP}`);
  }
}

/** --providers cpu,cuda: checked names, in the order given. */
function providerList(spec: string): string[] {
  const names = spec.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const n of names) {
    if (!(PROVIDERS as readonly string[]).includes(n)) throw new UsageError(`--providers: unknown provider '${n}' (known: ${PROVIDERS.join(', ')})`);
  }
  return names;
}

/** This device; with --providers the ONNX Runtime probe is skipped and those names are taken as available. */
async function device(v: Values): Promise<DeviceFacts> {
  if (v.providers === undefined) return detectDevice();
  const given = providerList(v.providers);
  const probes: ProviderProbe[] = given.map((name) => ({ name, listed: true, available: true, detail: 'given by --providers' }));
  return detectDevice({ ...systemFacts({ probe: false }), providers: async () => probes });
}

function profiles(v: Values): LoadedProfile[] {
  return loadProfiles(v.profiles ?? profilesDir());
}


function layerCount(v: Values): { nLayers: number; model?: string } {
  if (v.layers !== undefined && v.model !== undefined) throw new UsageError('give --model or --layers, not both');
  const n = intOption(v.layers, 'layers', 1);
  if (n !== undefined) return { nLayers: n };
  const path = resolveModelOption(v.model);
  return { nLayers: configFromGGUF(GGUFHeaderView.read(path)).nLayers, model: path };
}

const SIMD_FLAGS = ['sse4_1', 'sse4_2', 'avx', 'avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx_vnni', 'avx512_bf16', 'amx_int8', 'neon', 'asimd', 'asimdhp', 'asimddp', 'i8mm', 'bf16', 'sve', 'sve2'];

function settingsLine(s: RuntimeSettings): string {
  return `${s.threads} threads, ${s.simd}, memory budget ${formatBytes(s.memoryBudgetBytes)}, batch ≤ ${s.maxSequences} sequences / ${s.maxBatchTokens} tokens`;
}

async function detect(v: Values): Promise<void> {
  const d = await device(v);
  const all = profiles(v);
  const choice = pickProfile(d, all);
  const settings = choice.profile ? resolveSettings(choice.profile, d) : null;
  const kernels = await kernelChoice(settings?.simd);
  if (v.json) {
    console.log(JSON.stringify({
      device: d,
      profile: choice.profile?.name ?? null,
      source: choice.profile?.source ?? null,
      explanation: choice.explanation,
      settings,
      candidates: choice.candidates.map((c) => ({ name: c.profile.name, matches: c.matches, score: c.score, reasons: c.reasons })),
      kernels: 'error' in kernels ? { error: kernels.error } : Object.fromEntries(Object.values(kernels.families).map((c) => [c.family, { flavour: c.flavour, reason: c.reason, sha256: c.entry.sha256, candidates: c.candidates }])),
    }, null, 2));
    return;
  }
  console.log(`device: ${d.arch} ${d.platform}${d.cpuModel ? `, ${d.cpuModel}` : ''}, ${d.cores} cores, ${formatBytes(d.totalMemoryBytes)} memory`);
  console.log(`  board model:  ${d.deviceModel ?? '(none: no /proc/device-tree/model)'}`);
  if (d.cpuFeatures === null) console.log('  cpu flags:    (unknown: no /proc/cpuinfo)');
  else {
    const simd = SIMD_FLAGS.filter((f) => d.cpuFeatures!.includes(f));
    console.log(`  cpu flags:    ${d.cpuFeatures.length} flags; SIMD: ${simd.join(' ') || 'none of note'}`);
  }
  console.log(`  wasm SIMD:    simd128 ${d.wasmSimd.simd128 ? 'yes' : 'no'}, relaxed-simd ${d.wasmSimd.relaxedSimd ? 'yes' : 'no'}`);
  console.log('  onnx providers:');
  const w = Math.max(0, ...d.providers.map((p) => p.name.length));
  if (d.providers.length === 0) console.log('    (none)');
  for (const p of d.providers) console.log(`    ${p.name.padEnd(w)}  ${p.available ? 'available  ' : 'unavailable'}  ${p.detail}`);
  console.log('');
  if (!choice.profile) {
    console.log(`profile: none\n  ${choice.explanation}`);
    process.exitCode = 1;
  } else {
    console.log(`profile: ${choice.profile.name} (${choice.profile.source})`);
    console.log(`  why:      ${choice.explanation}`);
    console.log(`  settings: ${settingsLine(settings!)}`);
    for (const n of settings!.notes) console.log(`            ${n}`);
  }
  console.log(`\nkernels (Node ${process.versions.node}, V8 ${process.versions.v8}${'error' in kernels ? '' : `; canary and timing ${Math.round(kernels.ms)} ms`}):`);
  if ('error' in kernels) console.log(`  cannot run the wasm kernels: ${kernels.error}`);
  else for (const line of kernels.lines) console.log(`  ${line}`);
  console.log('\ncandidates (best first):');
  const nw = Math.max(...choice.candidates.map((c) => c.profile.name.length));
  for (const c of choice.candidates) {
    console.log(`  ${c.matches ? '✓' : '✗'} ${c.profile.name.padEnd(nw)}  ${c.matches ? `score ${String(c.score).padStart(2)}` : '        '}  ${c.reasons.filter((r) => c.matches || r.startsWith('✗')).map((r) => r.slice(2)).join('; ')}`);
  }
}

/** The kernel flavours this runtime and CPU get under a profile's SIMD level (host/kernels/choose.ts). */
async function kernelChoice(simd: RuntimeSettings['simd'] | undefined): Promise<KernelChoice | { error: string }> {
  try {
    return await chooseKernels({ simd });
  } catch (err) {
    return { error: (err as Error).message };
  }
}

async function show(v: Values): Promise<void> {
  const { nLayers, model } = layerCount(v);
  const d = await device(v);
  let profile: LoadedProfile;
  let why: string;
  if (v.profile !== undefined) {
    try {
      profile = namedProfile(v.profile, v.profiles ?? profilesDir());
    } catch (err) {
      // an unknown name is a mistake in the command line, not in a profile file
      if (err instanceof ProfileError && /no profile named/.test(err.message)) throw new UsageError(err.message);
      throw err;
    }
    why = 'given by --profile';
  } else {
    const choice = pickProfile(d, profiles(v));
    if (!choice.profile) throw new Error(choice.explanation);
    profile = choice.profile;
    why = `detected: ${choice.explanation}`;
  }
  const plan = planRouting(profile, { nLayers }, availableProviders(d));
  const settings = resolveSettings(profile, d);
  if (v.json) {
    console.log(JSON.stringify({ profile: profile.name, source: profile.source, why, model: model ?? null, nLayers, settings, plan }, null, 2));
    return;
  }
  console.log(`profile: ${profile.name} (${profile.source}), ${why}`);
  console.log(`model: ${model ? `${model}, ` : ''}${nLayers} layers`);
  console.log(`providers available: ${plan.availableProviders.join(', ') || 'none'}`);
  console.log(`settings: ${settingsLine(settings)}`);
  console.log('');
  console.log(describeRoutingPlan(plan));
  for (const w of plan.warnings) console.log(`warning: ${w}`);
}

async function validate(v: Values, files: string[]): Promise<void> {
  const paths = files.length > 0 ? files : profileFiles(v.profiles ?? profilesDir());
  if (paths.length === 0) throw new UsageError(`no profile files to validate in ${displayPath(v.profiles ?? profilesDir())}`);
  const shape = v.model !== undefined || v.layers !== undefined ? layerCount(v) : undefined;
  const results: Array<{ file: string; name?: string; ok: boolean; problems?: string[]; warnings?: string[] }> = [];
  for (const path of paths) {
    try {
      const p = loadProfile(path);
      // every listed provider counted as available: only the profile itself is being checked
      const plan = shape ? planRouting(p, shape, p.providers) : undefined;
      results.push({ file: p.source, name: p.name, ok: true, ...(plan?.warnings.length ? { warnings: plan.warnings } : {}) });
    } catch (err) {
      if (!(err instanceof ProfileError)) throw err;
      results.push({ file: err.source, ok: false, problems: err.message.split('\n') });
    }
  }
  if (v.json) console.log(JSON.stringify(results, null, 2));
  else {
    for (const r of results) {
      if (r.ok) console.log(`ok       ${r.file} (${r.name})${shape ? `, ${shape.nLayers} layers` : ''}`);
      else console.log(`invalid  ${r.problems!.join('\n         ')}`);
      for (const w of r.warnings ?? []) console.log(`         warning: ${w}`);
    }
  }
  const bad = results.filter((r) => !r.ok).length;
  if (bad > 0) {
    if (!v.json) process.stderr.write(`wisp: ${bad} of ${results.length} profile${results.length > 1 ? 's are' : ' is'} invalid\n`);
    process.exitCode = 1;
  }
}
