// `wisp models`: the catalog, where each model is (or is not) on this machine, and which fit the memory
// budget of the device profile in effect (the profile's budget of os.totalmem).
import { findCatalogEntry, loadCatalog, type CatalogEntry } from '../model/catalog.js';
import { ModelNotFoundError, modelSearchDirs, resolveModel } from '../model/resolve.js';
import { formatBytes } from '../obs/progress.js';
import { loadProfiles, namedProfile } from '../profiles/load.js';
import { detectDevice, systemFacts } from '../profiles/detect.js';
import { pickProfileQuick, resolveSettings } from '../profiles/settings.js';
import { parseOptions } from './args.js';

/** Room kept beside a model's weights (its file) for KV caches and activations, as a share of the file size. */
const HEADROOM = 0.25;

const HELP = `usage: wisp models [--profile NAME]

Lists the catalog (models/catalog.json) and the search path, and which models fit this device's
memory: a model fits when its file (its weights) and ${HEADROOM * 100}% more for KV caches and activations
fit the memory budget: the device profile's (--profile, else the one detected for this machine)
share of this machine's memory.`;

/** When no profile matches this machine: the share of its memory a model may take (as `wisp bench` assumes). */
const UNMATCHED: { budgetMiB?: number; fraction?: number } = { fraction: 0.6 };

export async function main(argv: string[]): Promise<void> {
  const { values: v } = parseOptions(argv, { profile: { type: 'string' } }, HELP);
  const catalog = loadCatalog();
  const { budget, why } = await memoryBudget(v.profile);
  console.log('search path:');
  for (const dir of modelSearchDirs()) console.log(`  ${dir}`);
  console.log(`\nmemory: ${formatBytes(budget)} for a model (${why})`);
  console.log('\ncatalog:');
  for (const e of catalog.models) {
    let where: string;
    try {
      where = resolveModel(e.name, { catalog }).path;
    } catch (err) {
      if (!(err instanceof ModelNotFoundError)) throw err;
      where = `not on disk (wisp pull ${e.name})`;
    }
    const mark = e.name === catalog.default ? ' (default)' : e.name === catalog.fallback ? ' (offline model)' : '';
    const quant = e.quant ? `, ${e.quant}` : '';
    console.log(`  ${e.name}${mark}: ${size(e)}${quant}, ${e.license}; ${fits(e, budget)}; ${where}`);
  }
  const d = findCatalogEntry(catalog, catalog.default);
  if (d && !fitsIn(d, budget)) console.log(`\nthe default, ${d.name}, does not fit: run a smaller model with --model NAME`);
}

function size(e: CatalogEntry): string {
  return `${e.size_approximate ? '≈' : ''}${formatBytes(e.size)}`;
}

function fitsIn(e: CatalogEntry, budget: number): boolean {
  return e.size * (1 + HEADROOM) <= budget;
}

function fits(e: CatalogEntry, budget: number): string {
  return fitsIn(e, budget) ? 'fits' : `does not fit (needs ≈${formatBytes(e.size * (1 + HEADROOM))})`;
}

/** The memory budget of the profile in effect on this machine (--profile, else the detected one), and where it comes from. */
async function memoryBudget(profileName: string | undefined): Promise<{ budget: number; why: string }> {
  const device = await detectDevice(systemFacts({ probe: false }));
  const profile = profileName !== undefined ? namedProfile(profileName) : (await pickProfileQuick(loadProfiles())).choice.profile;
  const memory = profile?.memory ?? UNMATCHED;
  const parts = [
    memory.budgetMiB !== undefined ? `${memory.budgetMiB} MiB` : undefined,
    memory.fraction !== undefined ? `${Math.round(memory.fraction * 100)}% of this machine's ${formatBytes(device.totalMemoryBytes)}` : undefined,
  ].filter((x) => x !== undefined);
  const rule = parts.length === 2 ? `the smaller of ${parts[0]} and ${parts[1]}` : parts[0];
  if (!profile) return { budget: Math.floor(0.6 * device.totalMemoryBytes), why: `no device profile matches this machine: ${rule}` };
  return { budget: resolveSettings(profile, device).memoryBudgetBytes, why: `profile ${profile.name}: ${rule}` };
}
