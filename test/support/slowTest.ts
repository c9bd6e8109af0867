/**
 * The time limit of the few tests that take a sixth of a second or more. Mutation runs
 * (`vitest.mutate.config.ts`) give every other test 2 s, so that a mutant that leaves a test
 * waiting is caught quickly; these name their own limit, so that no mutant is "caught" only
 * because it made a slow test slower.
 */
export const SLOW_TEST_MS = 20_000;
