import fc from 'fast-check';

/**
 * Property tests run from a fixed seed, so a CI run is reproducible: the same inputs every time.
 * To explore new inputs, run with FC_SEED=<number> or FC_SEED=random; fast-check prints the seed
 * of any counterexample, which then becomes a unit test.
 */
const seed = process.env['FC_SEED'];
if (seed !== 'random') fc.configureGlobal({ seed: seed === undefined ? 20_261_126 : Number(seed) });
