// How many cores this process may use: what a profile's "auto" threads means, and when the kernel
// pool has more threads than cores (and adapts its spinning).
import { availableParallelism } from 'node:os';

export function usableCores(): number {
  return availableParallelism();
}
