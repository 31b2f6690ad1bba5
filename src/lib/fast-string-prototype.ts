// ioredis 6 defines `class VerbatimString extends String` (its RESP3 decoder). Making
// String.prototype the prototype of a new class puts it in V8's prototype "setup mode": its
// properties move to a dictionary, and they stay there until an object whose prototype chain
// holds it takes a property store. The app never builds a VerbatimString, so the whole process
// ran with a dictionary-mode String.prototype: optimized code can then no longer inline
// `charCodeAt`, `indexOf`, `slice`... and calls them instead. Measured on Node 24: a charCodeAt
// loop over the strings of one traced video request ran ~6x slower (37.9 -> 217.3 ns per
// string), and encoding one request's four spans took ~45 µs instead of ~20 (docs/benchmarks.md,
// "The stream path taken apart").
//
// One property store on a String wrapper object makes the prototype fast again. This module
// imports ioredis itself (ESM evaluates it first) and restores the prototype when it loads, so
// the modules that use ioredis or bullmq (which loads the same ioredis) only import it, in any
// order; it is idempotent and costs nothing measurable.
import 'ioredis';

/** Takes String.prototype out of dictionary mode (see above). */
export function restoreFastStringPrototype(): void {
  const probe = new String('') as unknown as { fastPrototypeProbe?: number };
  probe.fastPrototypeProbe = 0;
}

restoreFastStringPrototype();
